"""Token introspection (RFC 7662) and revocation (RFC 7009), both for authenticated clients."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from gateway.oauth.access_tokens import (
    active_access_token,
    is_access_token_shaped,
    parse_opaque,
)
from gateway.oauth.client_auth import CONFIDENTIAL_METHODS, authenticate
from gateway.oauth.models import digest
from gateway.oauth.revocations import revoke_access_token, revoke_family
from gateway.oauth.tokens_in import verify_own_jwt
from gateway.server.forms import FormError, read_form
from gateway.server.responses import NO_STORE_HEADERS, oauth_error
from gateway.server.services import Services
from store import kv_keys


def _json(body: dict[str, Any]) -> Response:
    return Response(
        orjson.dumps(body),
        media_type="application/json",
        headers=NO_STORE_HEADERS,
    )


async def _form_and_client(request: Request, endpoint: str, methods: list[str] | None = None):
    services: Services = request.app.state.services
    try:
        form = await read_form(request, services.settings.max_form_bytes)
    except FormError as error:
        return None, None, oauth_error("invalid_request", error.description, error.status)
    client, refused = await authenticate(request, form, endpoint, methods)
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
    form, client, refused = await _form_and_client(request, "introspection")
    if refused is not None:
        return refused
    token = form["token"]
    if is_access_token_shaped(token):
        claims = await active_access_token(services, token)
        if claims is not None and (client.resource_server or _names(claims, client.client_id)):
            # Only the token's client, its audience and resource servers (registered as such)
            # learn about it (RFC 7662 §2.1, §4).
            body = {"active": True, "token_type": "Bearer"}
            for name in ("scope", "client_id", "sub", "aud", "iss", "exp", "iat", "jti", "sid",
                         "auth_time", "acr"):  # fmt: skip
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


async def revocation_endpoint(request: Request) -> Response:
    services: Services = request.app.state.services
    # RFC 7009 §2.1: a public client identifies itself by client_id and revokes its own tokens.
    methods = [*CONFIDENTIAL_METHODS, "none"]
    form, client, refused = await _form_and_client(request, "revocation", methods)
    if refused is not None:
        return refused
    token = form["token"]
    # The shape tells the kind: an opaque access token, a JWT, else a refresh token.
    if parse_opaque(token) is not None:
        claims = await active_access_token(services, token) or {}
        if claims.get("client_id") == client.client_id:
            await revoke_access_token(services, claims["jti"])
            await services.expiring.delete(
                kv_keys.opaque_access_token(claims["jti"])
            )  # its claims go now
    elif token.count(".") == 2:
        try:
            claims = verify_own_jwt(services, token, typ="at+jwt")
        except Exception:  # an invalid token needs no revoking (RFC 7009 §2.2)
            claims = {}
        if claims.get("client_id") == client.client_id and isinstance(claims.get("jti"), str):
            await revoke_access_token(services, claims["jti"])
    else:
        record = await services.refresh_tokens.get(digest(token))
        if record is not None and record.client_id == client.client_id:
            await revoke_family(services, record.family_id, "revoked by client")
    # RFC 7009 §2.2: 200 whether or not there was anything to revoke.
    return Response(b"", status_code=200, headers=NO_STORE_HEADERS)
