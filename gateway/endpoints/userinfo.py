"""The UserInfo endpoint (OIDC Core §5.3), GET or POST, token in the Authorization header or
(POST) in the form body (RFC 6750 §2.1, §2.2)."""

from __future__ import annotations

import orjson
from authlib.oauth2.rfc6749.util import scope_to_list
from starlette.requests import Request
from starlette.responses import Response

from gateway.identity.claims import sector_of, user_claims, wants_phone
from gateway.oauth.access_tokens import active_access_token
from gateway.server.forms import FormError, read_form
from gateway.server.responses import description_text, oauth_error
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


def _bearer_error(status: int, error: str | None, description: str | None = None) -> Response:
    """RFC 6750 §3: the error in the challenge, and as the JSON body too."""
    challenge = 'Bearer realm="yihaotong"'
    if not error:
        return Response(
            status_code=status, headers={"WWW-Authenticate": challenge, "Cache-Control": "no-store"}
        )
    challenge += f', error="{error}"'
    if description:
        description = description_text(description, error)
        challenge += f', error_description="{description}"'
    return oauth_error(error, description, status, {"WWW-Authenticate": challenge})


async def userinfo_endpoint(request: Request) -> Response:
    services: Services = request.app.state.services
    header = request.headers.get("authorization", "")
    scheme, _, from_header = header.partition(" ")
    token = from_header.strip() if scheme.lower() == "bearer" else None
    if request.method == "POST" and request.headers.get("content-type", "").startswith(
        "application/x-www-form-urlencoded"
    ):
        try:
            form = await read_form(request, services.settings.max_form_bytes)
        except FormError as error:
            return _bearer_error(400, "invalid_request", error.description)
        if "access_token" in form:
            if token:
                return _bearer_error(400, "invalid_request", "Send the token one way only.")
            token = form["access_token"]
    if not token:
        return _bearer_error(401, None)
    claims = await active_access_token(services, token)
    if claims is None:
        return _bearer_error(401, "invalid_token", "The access token is invalid or expired.")
    scopes = scope_to_list(claims.get("scope")) or []
    if "openid" not in scopes:
        return _bearer_error(403, "insufficient_scope", "The token lacks the openid scope.")
    client = await services.clients.get(str(claims.get("client_id")))
    subject = str(claims.get("sub"))
    account_id = subject
    if client is not None and client.subject_type == "pairwise":
        account_id = await services.subjects.account_of(sector_of(client), subject) or ""
    account = await services.accounts.current(account_id) if account_id else None
    if account is None or account.disabled or client is None:
        return _bearer_error(401, "invalid_token", "The access token is invalid or expired.")
    phone = await services.phone_accounts.verified_of(account.id) if wants_phone(scopes) else None
    answer = user_claims(account, subject, scopes, phone=phone)
    # The organisation claims decided when the token was issued (roles, groups, org, ...).
    answer.update({k: v for k, v in claims.items() if k not in _TOKEN_ONLY and k not in answer})
    body = orjson.dumps(answer)
    response = Response(body)
    response.raw_headers = [(b"content-length", str(len(body)).encode()), *_ANSWER_HEADERS]
    return response
