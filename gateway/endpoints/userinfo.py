"""The UserInfo endpoint (OIDC Core §5.3), GET or POST, token in the Authorization header or
(POST) in the form body (RFC 6750 §2.1, §2.2), or DPoP-bound with its proof (RFC 9449 §7)."""

from __future__ import annotations

import orjson
from authlib.oauth2.rfc6749.util import scope_to_list
from starlette.requests import Request
from starlette.responses import Response

from gateway.endpoints.client_limits import refused_for_rate
from gateway.endpoints.discovery import USERINFO_PATH
from gateway.identity.claims import sector_of, user_claims, wants_phone
from gateway.oauth.resource_access import AccessRefused, presented_access
from gateway.server.forms import FormError, read_form
from gateway.server.services import Services

_TOKEN_ONLY = frozenset(
    {"iss", "sub", "aud", "client_id", "iat", "exp", "nbf", "jti", "scope", "auth_time", "acr"}
    | {"amr", "sid", "azp", "typ", "cnf"}
)

# Built once: the answer's headers but its length (Starlette would build them for each).
_ANSWER_HEADERS = [
    (b"content-type", b"application/json"),
    (b"cache-control", b"no-store"),
    (b"access-control-allow-origin", b"*"),
]


def _refused(status: int, error: str, description: str, dpop: bool = False) -> Response:
    return AccessRefused(status, error, description, dpop).response()


async def userinfo_endpoint(request: Request) -> Response:
    services: Services = request.app.state.services
    form_token = None
    if request.method == "POST" and request.headers.get("content-type", "").startswith(
        "application/x-www-form-urlencoded"
    ):
        try:
            form = await read_form(request, services.settings.max_form_bytes)
        except FormError as error:
            return _refused(400, "invalid_request", error.description)
        form_token = form.get("access_token")
    try:
        uri = services.settings.issuer.rstrip("/") + USERINFO_PATH  # its one route
        presented = await presented_access(services, request, form_token=form_token, uri=uri)
    except AccessRefused as refused:
        return refused.response()
    claims, dpop = presented.claims, presented.jkt is not None
    scopes = scope_to_list(claims.get("scope")) or []
    if "openid" not in scopes:
        return _refused(403, "insufficient_scope", "The token lacks the openid scope.", dpop)
    client = await services.clients.in_service(str(claims.get("client_id")))
    limited = client and await refused_for_rate(services, "userinfo", client)
    if limited:
        return limited
    subject = str(claims.get("sub"))
    account_id = subject
    if client is not None and client.subject_type == "pairwise":
        account_id = await services.subjects.account_of(sector_of(client), subject) or ""
    account = await services.accounts.current(account_id) if account_id else None
    if account is None or account.disabled or client is None:
        return _refused(401, "invalid_token", "The access token is invalid or expired.", dpop)
    phone = await services.phone_accounts.verified_of(account.id) if wants_phone(scopes) else None
    answer = user_claims(account, subject, scopes, phone=phone)
    # The organisation claims decided when the token was issued (roles, groups, org, ...).
    answer.update({k: v for k, v in claims.items() if k not in _TOKEN_ONLY and k not in answer})
    body = orjson.dumps(answer)
    response = Response(body)
    response.raw_headers = [(b"content-length", str(len(body)).encode()), *_ANSWER_HEADERS]
    return response
