"""Token introspection (RFC 7662), for authenticated clients."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from gateway.endpoints.client_limits import refused_for_rate
from gateway.oauth.access_tokens import active_access_token, is_access_token_shaped
from gateway.oauth.client_auth import authenticate
from gateway.oauth.models import digest
from gateway.server.forms import FormError, read_form
from gateway.server.responses import NO_STORE_HEADERS, oauth_error
from gateway.server.services import Services


def _json(body: dict[str, Any]) -> Response:
    return Response(
        orjson.dumps(body),
        media_type="application/json",
        headers=NO_STORE_HEADERS,
    )


async def form_and_client(request: Request, endpoint: str, methods: list[str] | None = None):
    services: Services = request.app.state.services
    try:
        form = await read_form(request, services.settings.max_form_bytes)
    except FormError as error:
        return None, None, oauth_error("invalid_request", error.description, error.status)
    client, refused = await authenticate(request, form, endpoint, methods)
    if refused is not None:
        return None, None, refused
    if endpoint == "introspection":
        refused = await refused_for_rate(services, endpoint, client)
        if refused is not None:
            return None, None, refused
    if "token" not in form:
        return None, None, oauth_error("invalid_request", "Missing 'token' parameter.")
    return form, client, None


def _names(claims: dict[str, Any], client_id: str) -> bool:
    """Whether the token was issued to the client or names it as an audience."""
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    return client_id in (claims.get("client_id"), *audiences)


async def introspection_endpoint(request: Request) -> Response:
    services: Services = request.app.state.services
    form, client, refused = await form_and_client(request, "introspection")
    if refused is not None:
        return refused
    token = form["token"]
    if is_access_token_shaped(token):
        claims = await active_access_token(services, token)  # None while its app is not live
        if claims is not None and (client.resource_server or _names(claims, client.client_id)):
            # Only the token's client, its audience and resource servers (registered as such)
            # learn about it (RFC 7662 §2.1, §4).
            # RFC 9449 §6.2: a bound token shows its key and the DPoP type.
            body = {"active": True, "token_type": "DPoP" if "cnf" in claims else "Bearer"}
            for name in ("scope", "client_id", "sub", "aud", "iss", "exp", "iat", "jti", "sid",
                         "auth_time", "acr", "cnf", "act"):  # fmt: skip
                if name in claims:
                    body[name] = claims[name]
            return _json(body)
        return _json({"active": False})
    record = await services.refresh_tokens.get(digest(token))
    now = services.clock.now()
    if (
        record is None
        or record.client_id != client.client_id  # refresh tokens are their client's business
        or record.used_at is not None
        or record.revoked_at is not None
        or record.expires_at <= now
        or (not record.offline and record.sid and await services.sessions.get(record.sid) is None)
    ):
        return _json({"active": False})
    return _json(
        {
            "active": True,
            "token_type": "refresh_token",
            "client_id": record.client_id,
            "scope": record.scope,
            "exp": int(record.expires_at),
            "iat": int(record.created_at),
            "iss": services.settings.issuer,
        }
    )
