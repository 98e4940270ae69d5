"""Is this access token still good? Signature, issuer, expiry, type — and not revoked, by
itself, by its refresh token family, or by the end of its SSO session."""

from __future__ import annotations

from typing import Any

from joserfc.errors import JoseError

from gateway.revocations import ended_key, revoked_key
from gateway.services import Services
from gateway.tokens_in import verify_own_jwt


async def active_access_token(services: Services, token: str) -> dict[str, Any] | None:
    try:
        claims = verify_own_jwt(services, token, typ="at+jwt")
    except (JoseError, ValueError):
        return None
    jti = claims.get("jti")
    if not isinstance(jti, str):
        return None
    sid = claims.get("sid")
    # Revoked by its jti, or its SSO session ended: both looked up in one round trip.
    keys = [revoked_key(jti), *([ended_key(sid)] if isinstance(sid, str) else [])]
    if any(found is not None for found in await services.expiring.get_many(*keys)):
        return None
    return claims
