"""Token revocation (RFC 7009), for authenticated clients and public clients by client_id."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from gateway.endpoints.introspection import form_and_client
from gateway.oauth.access_tokens import active_access_token, parse_opaque
from gateway.oauth.client_auth import CONFIDENTIAL_METHODS
from gateway.oauth.models import digest
from gateway.oauth.revocations import revoke_access_token, revoke_family
from gateway.oauth.tokens_in import verify_own_jwt
from gateway.server.responses import NO_STORE_HEADERS
from gateway.server.services import Services
from store import kv_keys


async def revocation_endpoint(request: Request) -> Response:
    services: Services = request.app.state.services
    # RFC 7009 §2.1: a public client identifies itself by client_id and revokes its own tokens.
    methods = [*CONFIDENTIAL_METHODS, "none"]
    form, client, refused = await form_and_client(request, "revocation", methods)
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
