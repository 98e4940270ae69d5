"""Revoking what was issued: refresh token families in the durable store, access tokens (JWTs)
by their jti in the expiring store until they would have expired anyway."""

from __future__ import annotations

from gateway.services import Services
from store import kv_keys
from store.records import AuditEvent


async def revoke_access_token(services: Services, jti: str) -> None:
    await services.expiring.put(
        kv_keys.revoked_access_token(jti), b"1", services.settings.access_token_ttl + 60
    )


async def revoke_family(services: Services, family_id: str, reason: str) -> None:
    """Revoke a refresh token family and the access tokens issued with it."""
    jtis = await services.refresh_tokens.revoke_family(family_id, services.clock.now())
    for jti in jtis:
        await revoke_access_token(services, jti)
    await services.audit.record(
        AuditEvent(
            "token.revoked",
            outcome="success",
            details={"family": family_id[:8], "reason": reason, "access_tokens": len(jtis)},
        )
    )


async def end_session_grants(services: Services, sid: str) -> None:
    """Refresh tokens bound to an SSO session (not offline ones) end with it, and so do the
    access tokens that carry its sid."""
    await services.expiring.put(
        kv_keys.ended_session(sid), b"1", services.settings.access_token_ttl + 60
    )
    for family_id in await services.refresh_tokens.families_of_session(sid):
        await revoke_family(services, family_id, "logout")
