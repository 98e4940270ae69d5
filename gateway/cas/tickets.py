"""CAS tickets in the expiring store (CAS 3.0 §3): service and proxy tickets, single-use and
short-lived, kept by the digest of the ticket; proxy-granting tickets, living while the SSO
session they came from does."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any

import orjson

from gateway.identity import expiry_sweep
from store import kv_keys
from store.kv import ExpiringStore

SERVICE_TICKET = "ST-"
PROXY_TICKET = "PT-"
PROXY_GRANTING_TICKET = "PGT-"
PROXY_GRANTING_IOU = "PGTIOU-"
MAX_TICKET_LENGTH = 256  # CAS 3.0 §3.1.1: clients must accept tickets of up to 256 characters


def new_ticket(prefix: str) -> str:
    """A ticket: its prefix and 256 random bits (CAS 3.0 §3.7: not guessable)."""
    return prefix + secrets.token_urlsafe(32)


def _digest(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()


@dataclass
class Ticket:
    """What a service or proxy ticket stands for, fixed when it is issued."""

    client_id: str
    service: str  # the service it was issued for; validation must name the same (§2.5.1)
    user: str  # the subject as this app sees it (pairwise where the app is)
    account_id: str
    sid: str
    primary: bool  # issued from a sign-in just made (renew, §2.5.1)
    attributes: dict[str, Any] = field(default_factory=dict)
    proxies: list[str] = field(default_factory=list)  # proxy callbacks, the latest first
    act_for: str | None = None  # the enterprise the person acts for

    @property
    def is_proxy_ticket(self) -> bool:
        return bool(self.proxies)


@dataclass
class ProxyGrantingTicket:
    client_id: str  # the app that may use it
    account_id: str
    sid: str
    act_for: str | None
    proxies: list[str]  # the callback that received it first, then those before it


class Tickets:
    def __init__(self, store: ExpiringStore, ttl: float, pgt_ttl: float) -> None:
        self._store = store
        self._ttl = ttl
        self._pgt_ttl = pgt_ttl

    async def issue(self, value: str, ticket: Ticket) -> None:
        """Store ``ticket`` under ``value`` (from ``new_ticket``, so the caller can record it
        for single logout in the same round trip)."""
        record = orjson.dumps(ticket.__dict__)
        await self._store.put(
            kv_keys.cas_ticket(_digest(value)), record, self._ttl, expiry_sweep.CAS_TICKET
        )

    async def take(self, value: str) -> Ticket | None:
        """The ticket, once: whatever the validation's outcome it is gone (§3.1.1, §3.2.1)."""
        if not value.startswith((SERVICE_TICKET, PROXY_TICKET)) or len(value) > MAX_TICKET_LENGTH:
            return None
        raw = await self._store.take(kv_keys.cas_ticket(_digest(value)), expiry_sweep.CAS_TICKET)
        return None if raw is None else Ticket(**orjson.loads(raw))

    async def grant_proxying(self, pgt: ProxyGrantingTicket) -> tuple[str, str]:
        """A new proxy-granting ticket and its IOU (§3.3, §3.4)."""
        value = new_ticket(PROXY_GRANTING_TICKET)
        record = orjson.dumps(pgt.__dict__)
        await self._store.put(
            kv_keys.cas_proxy_granting_ticket(_digest(value)), record, self._pgt_ttl
        )
        return value, new_ticket(PROXY_GRANTING_IOU)

    async def proxy_granting(self, value: str) -> ProxyGrantingTicket | None:
        if not value.startswith(PROXY_GRANTING_TICKET) or len(value) > MAX_TICKET_LENGTH:
            return None
        raw = await self._store.get(kv_keys.cas_proxy_granting_ticket(_digest(value)))
        return None if raw is None else ProxyGrantingTicket(**orjson.loads(raw))
