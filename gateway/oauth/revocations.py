"""Revoking what was issued: refresh token families in the durable store; access tokens (by
jti) and SSO sessions' tokens (by sid) by marks kept until those tokens would have expired.

A mark is written to SQL first, then to the expiring store, which the token path reads. The
expiring store may lose everything (Redis restarted without persistence, the in-process store
at a restart), so it also holds a sentinel written only after every durable mark was copied in:
the token path reads the sentinel in the same round trip as the marks, and when it is missing
the marks are reloaded before any token is found active."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from store import kv_keys
from store.clock import Clock
from store.kv import ExpiringStore
from store.records import AuditEvent
from store.revocations import RevocationStore

if TYPE_CHECKING:
    from gateway.server.services import Services

log = logging.getLogger("yihaotong.revocations")

JTI, SID = "jti", "sid"
LOADED_KEY = kv_keys.revocations_loaded()
_LOADED_TTL = 86400.0  # a daily reload also purges and heals a store restored from a snapshot
_RELOAD_CHUNK = 200
_PURGE_EVERY = 3600.0

_KEYS = {JTI: kv_keys.revoked_access_token, SID: kv_keys.ended_session}


class Revocations:
    """The durable marks and their copy in the expiring store."""

    def __init__(
        self, store: RevocationStore, expiring: ExpiringStore, clock: Clock, ttl: float
    ) -> None:
        self._store = store
        self._expiring = expiring
        self._clock = clock
        self._ttl = ttl
        self._reloading = asyncio.Lock()
        self._purged_at = 0.0

    async def mark(self, kind: str, values: list[str]) -> None:
        """Keep the marks durably, then in the expiring store."""
        if not values:
            return
        now = self._clock.now()
        await self._store.add(kind, values, now + self._ttl)
        await asyncio.gather(*(self._expiring.put(_KEYS[kind](v), b"1", self._ttl) for v in values))
        if now - self._purged_at > _PURGE_EVERY:
            self._purged_at = now
            await self._store.purge(now)

    async def reload(self) -> None:
        """Copy every durable mark into the expiring store, then write the sentinel; called when
        a read found the sentinel missing. One reload at a time in a process; concurrent ones
        in other processes write the same marks."""
        async with self._reloading:
            if await self._expiring.get(LOADED_KEY) is not None:
                return  # another request of this process has just reloaded
            now = self._clock.now()
            marks = await self._store.live(now)
            for start in range(0, len(marks), _RELOAD_CHUNK):
                await asyncio.gather(
                    *(
                        self._expiring.put(_KEYS[kind](value), b"1", max(expires - now, 0.001))
                        for kind, value, expires in marks[start : start + _RELOAD_CHUNK]
                    )
                )
            await self._expiring.put(LOADED_KEY, b"1", _LOADED_TTL)
            log.warning(
                "revocations loaded into the expiring store",
                extra={"fields": {"marks": len(marks)}},
            )
            self._purged_at = now
            await self._store.purge(now)


async def claimed_and_found(
    services: Services, claim: tuple[str, float] | None, *keys: str
) -> tuple[bool, list[bytes | None]]:
    """The values of ``keys`` (revocation marks and whatever else the caller reads in the same
    round trip), after a reload if the expiring store had lost the marks; with ``claim`` (a key
    and its lifetime) added first in that round trip: whether this call added it (True without
    one), and the values."""
    if claim is None:
        added, (*found, loaded) = True, await services.expiring.get_many(*keys, LOADED_KEY)
    else:
        added, (*found, loaded) = await services.expiring.add_and_get(
            claim[0], b"1", claim[1], *keys, LOADED_KEY
        )
    if loaded is None:
        await services.revocations.reload()
        found = await services.expiring.get_many(*keys)
    return added, found


async def revoke_access_token(services: Services, jti: str) -> None:
    await services.revocations.mark(JTI, [jti])


async def revoke_family(services: Services, family_id: str, reason: str) -> None:
    """Revoke a refresh token family and the access tokens issued with it."""
    jtis = await services.refresh_tokens.revoke_family(family_id, services.clock.now())
    await services.revocations.mark(JTI, list(jtis))
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
    await services.revocations.mark(SID, [sid])
    for family_id in await services.refresh_tokens.families_of_session(sid):
        await revoke_family(services, family_id, "logout")
