"""Raising a person's own real-name level: the identity check, counted against repeated
failures (per account and per address, before the check, as passwords are), the evidence kept
and the level set in one transaction. An account whose ID number is on record can only prove
that same number; an ID number held by another account is refused."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

from gateway.identity.pii import PiiVault
from gateway.identity.rate_limits import (
    REAL_NAME_FAILURES,
    REAL_NAME_PER_ADDRESS,
    hit_all,
    reset,
    retry_after,
)
from gateway.identity.real_name import (
    METHOD_LEVELS,
    CheckRequest,
    CheckUnavailable,
    IdentityChecker,
)
from policies.assurance import rank
from policies.identifiers import national_id_problem, normalize_national_id
from store import kv_keys
from store.clock import Clock
from store.errors import Conflict
from store.identities import IdentityStore
from store.kv import ExpiringStore
from store.real_name import RealNameEvidence, RealNameStore
from store.records import Account, AccountIdentifier

Result = Literal[
    "raised",  # checked, the level is now ``level``
    "confirmed",  # checked (confirm_identity): the level is unchanged
    "mismatch",  # the service says no, or another number than the one on record
    "bad_number",  # not an ID number (wrong check character): nothing was asked
    "limited",  # too many failures: ``retry_after`` seconds
    "unavailable",  # the service gave no verdict: ``reason``
    "taken",  # the number is another account's
    "not_offered",  # no such method here, or not for this account
]


@dataclass(frozen=True)
class Outcome:
    result: Result
    level: str | None = None
    retry_after: int = 0
    reason: str = ""


class RealNameLevels:
    def __init__(
        self,
        checker: IdentityChecker | None,
        store: RealNameStore,
        identities: IdentityStore,
        vault: PiiVault,
        expiring: ExpiringStore,
        clock: Clock,
    ) -> None:
        self.checker = checker
        self._store = store
        self._identities = identities
        self._vault = vault
        self._expiring = expiring
        self._clock = clock

    def methods_for(self, account: Account) -> list[str]:
        """The methods that would raise this account's level (people only: an enterprise or a
        member of staff gets its level from the registry or the department, not from here)."""
        if self.checker is None or account.kind != "person":
            return []
        return [
            method
            # Not "face": it needs the city's face-capture front end, which this page is not.
            for method in ("id_pair", "network_id")
            if method in self.checker.methods
            and rank(METHOD_LEVELS[method]) > rank(account.assurance)
        ]

    def reachable_levels(self, account: Account) -> frozenset[str]:
        """The levels a check on the account page could bring the account to."""
        return frozenset(METHOD_LEVELS[m] for m in self.methods_for(account))

    async def recorded_national_id(self, account_id: str) -> str | None:
        for item in await self._identities.identifiers_of(account_id):
            if item.type == "national_id" and item.verified:
                return self._vault.open("national_id", item.value)
        return None

    async def latest(self, account_id: str) -> RealNameEvidence | None:
        return await self._store.latest(account_id)

    async def raise_level(
        self, account: Account, method: str, name: str, national_id: str, evidence: str, ip: str
    ) -> Outcome:
        if method not in self.methods_for(account):
            return Outcome("not_offered")
        return await self._check(account, method, name, national_id, evidence, ip, record=True)

    async def confirm_identity(
        self, account: Account, name: str, national_id: str, ip: str
    ) -> Outcome:
        """A two-element check of the identity on record (to change a phone without the old
        one); an account without an ID number on record cannot be confirmed."""
        if self.checker is None or "id_pair" not in self.checker.methods:
            return Outcome("not_offered")
        if await self.recorded_national_id(account.id) is None:
            return Outcome("not_offered")
        return await self._check(account, "id_pair", name, national_id, "", ip, record=False)

    async def _check(
        self,
        account: Account,
        method: str,
        name: str,
        national_id: str,
        evidence: str,
        ip: str,
        *,
        record: bool,
    ) -> Outcome:
        assert self.checker is not None
        number = normalize_national_id(national_id)
        name = name.strip()
        if national_id_problem(number) is not None or not 0 < len(name) <= 100:
            return Outcome("bad_number")
        counters = [
            (kv_keys.real_name_failures(account.id), REAL_NAME_FAILURES),
            (kv_keys.real_name_failures_per_address(ip), REAL_NAME_PER_ADDRESS),
        ]
        seen = await hit_all(self._expiring, counters)
        over = [c for c, n in zip(counters, seen, strict=True) if not c[1].allows(n)]
        if over:
            await hit_all(self._expiring, counters, amount=-1)
            waits = [await retry_after(self._expiring, key, limit) for key, limit in over]
            return Outcome("limited", retry_after=max(waits))
        recorded = await self.recorded_national_id(account.id)
        if recorded is not None and recorded != number:
            return Outcome("mismatch")  # counted: one cannot prove to be somebody else
        reference = str(uuid.uuid4())
        request = CheckRequest(method, name, number, evidence.strip(), reference)
        try:
            verdict = await self.checker.check(request)
        except CheckUnavailable as failure:
            await hit_all(self._expiring, counters, amount=-1)  # no verdict: not the person's
            return Outcome("unavailable", reason=failure.reason)
        if not verdict.match:
            return Outcome("mismatch")
        if not record:
            await reset(self._expiring, counters[0][0])
            return Outcome("confirmed", level=account.assurance)
        level = METHOD_LEVELS[method]
        now = self._clock.now()
        index = self._vault.blind_index("national_id", number)
        try:
            await self._store.raise_level(
                RealNameEvidence(
                    id=reference,
                    account_id=account.id,
                    level=level,
                    method=method,
                    backend=self.checker.name,
                    reference=verdict.reference or reference,
                    national_id_index=index,
                    national_id=self._vault.seal("national_id", number),
                    name=self._vault.seal("name", name),
                    checked_at=now,
                ),
                AccountIdentifier(
                    account_id=account.id,
                    type="national_id",
                    blind_index=index,
                    value=self._vault.seal("national_id", number),
                    verified=True,
                    created_at=now,
                ),
            )
        except Conflict:
            # Counted as a failure: a registry match must not let one account probe, pair by
            # pair, which people have an account here.
            return Outcome("taken")
        await reset(self._expiring, counters[0][0])
        return Outcome("raised", level=level)
