"""Is this access token still good? Signature, issuer, expiry, type — and not revoked, by
itself, by its refresh token family, or by the end of its SSO session."""

from __future__ import annotations

from typing import Any

from joserfc.errors import JoseError

from gateway.revocations import access_token_revoked, session_ended
from gateway.services import Services
from gateway.tokens_in import verify_own_jwt


async def active_access_token(services: Services, token: str) -> dict[str, Any] | None:
    try:
        claims = verify_own_jwt(services, token, typ="at+jwt")
    except (JoseError, ValueError):
        return None
    jti = claims.get("jti")
    if not isinstance(jti, str) or await access_token_revoked(services, jti):
        return None
    sid = claims.get("sid")
    if isinstance(sid, str) and await session_ended(services, sid):
        return None
    return claims
