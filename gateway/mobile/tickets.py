"""Scan-to-sign-in tickets in the expiring store (``policies/scan_sign_in.py`` decides).

A ticket is 256 random bits, kept by its digest under three keys that each change once:
the ticket (its sign-in transaction and what the app is shown of the PC), the claim (the one
app that scanned it, written with ``add``) and the outcome (confirmed or refused, written with
``add``). The PC's finish takes the outcome (``take``) and the ticket, so of any two finishes
one signs in; a ticket never finished is counted when it expires (``expiry_sweep``). Every key
lives only as long as the ticket has left."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import asdict, dataclass, field

import orjson

from gateway.identity import expiry_sweep
from policies.scan_sign_in import TICKET_SECONDS, State, refusal, state_of
from store import kv_keys
from store.clock import Clock
from store.kv import ExpiringStore


def ticket_digest(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()


@dataclass
class Ticket:
    """What a ticket is bound to, and what the scanning app is shown (the draft's context)."""

    tx_id: str
    client_id: str
    client_name: str
    ip: str
    browser: str
    expires_at: float


@dataclass
class Claim:
    """The app that scanned: its person, its client and the session behind its token."""

    account_id: str
    client_id: str
    sid: str | None = None


@dataclass
class Outcome:
    """The app's answer, with how its person signed in there (for the PC session's amr)."""

    status: str  # "confirmed" or "refused"
    account_id: str
    amr: list[str] = field(default_factory=list)
    acr: str | None = None


@dataclass
class Seen:
    """A ticket's state and what is stored of it."""

    state: State
    ticket: Ticket | None
    claim: Claim | None
    outcome: Outcome | None


def _dump(record: object) -> bytes:
    return orjson.dumps(asdict(record))  # type: ignore[call-overload]


class ScanTickets:
    def __init__(self, expiring: ExpiringStore, clock: Clock) -> None:
        self._store, self._clock = expiring, clock

    def new(
        self, tx_id: str, client_id: str, client_name: str, ip: str, browser: str
    ) -> tuple[str, tuple[str, bytes, float]]:
        """A new ticket, and its write as (key, value, ttl), for ``write`` to send with the
        transaction's."""
        ticket = secrets.token_urlsafe(32)
        record = Ticket(
            tx_id, client_id, client_name, ip, browser, self._clock.now() + TICKET_SECONDS
        )
        return ticket, (kv_keys.scan_ticket(ticket_digest(ticket)), _dump(record), TICKET_SECONDS)

    async def write(
        self, ticket: tuple[str, bytes, float], *others: tuple[str, bytes, float]
    ) -> None:
        """The new ticket, entered in its expiry ledger, and ``others`` sent concurrently."""
        key, value, ttl = ticket
        await asyncio.gather(
            self._store.put(key, value, ttl, expiry_sweep.SCAN_TICKET),
            self._store.put_many(*others),
        )

    async def seen(self, digest: str) -> Seen:
        """The state in one round trip."""
        raw_ticket, raw_claim, raw_outcome = await self._store.get_many(
            kv_keys.scan_ticket(digest), kv_keys.scan_claim(digest), kv_keys.scan_outcome(digest)
        )
        ticket = Ticket(**orjson.loads(raw_ticket)) if raw_ticket else None
        if ticket is not None and ticket.expires_at <= self._clock.now():
            ticket = None
        claim = Claim(**orjson.loads(raw_claim)) if raw_claim else None
        outcome = Outcome(**orjson.loads(raw_outcome)) if raw_outcome else None
        state = state_of(ticket is not None, claim is not None, outcome.status if outcome else None)
        return Seen(state, ticket, claim, outcome)

    def _left(self, ticket: Ticket) -> float:
        return ticket.expires_at - self._clock.now()

    async def scan(self, digest: str, claim: Claim) -> tuple[Ticket | None, str | None]:
        """The scanning app claims the ticket; (the ticket, None) or (None, why not)."""
        seen = await self.seen(digest)
        why = refusal(seen.state, "scan")
        if why is not None or seen.ticket is None:
            return None, why or "ticket_expired"
        left = self._left(seen.ticket)
        if left <= 0 or not await self._store.add(kv_keys.scan_claim(digest), _dump(claim), left):
            return None, "ticket_used"  # another scan came first
        return seen.ticket, None

    async def answer(self, digest: str, claim: Claim, outcome: Outcome) -> str | None:
        """The scanning app confirms or refuses; None when recorded, else why not."""
        seen = await self.seen(digest)
        scanner = seen.claim is not None and (seen.claim.account_id, seen.claim.client_id) == (
            claim.account_id,
            claim.client_id,
        )
        event = "confirm" if outcome.status == "confirmed" else "refuse"
        why = refusal(seen.state, event, by_the_scanner=scanner)
        if why is not None or seen.ticket is None:
            return why or "ticket_expired"
        left = self._left(seen.ticket)
        if left <= 0 or not await self._store.add(
            kv_keys.scan_outcome(digest), _dump(outcome), left
        ):
            return "ticket_used"
        return None

    async def finish(self, digest: str) -> Outcome | None:
        """The confirmed outcome, taken once; the ticket ends with it. None (and the ticket
        left as it is) before a confirmation."""
        if refusal((await self.seen(digest)).state, "finish") is not None:
            return None
        raw = await self._store.take(kv_keys.scan_outcome(digest))
        await asyncio.gather(  # taken, the ticket leaves its expiry ledger: it signed in
            self._store.take(kv_keys.scan_ticket(digest), expiry_sweep.SCAN_TICKET),
            self._store.delete(kv_keys.scan_claim(digest)),
        )
        outcome = Outcome(**orjson.loads(raw)) if raw else None
        return outcome if outcome is not None and outcome.status == "confirmed" else None
