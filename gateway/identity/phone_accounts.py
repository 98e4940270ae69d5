"""Accounts by verified phone: find the one holding a number, or register a new L1 account
for it with the agreements the person accepted."""

from __future__ import annotations

import secrets
import uuid

from gateway.identity.pii import PiiVault
from store.clock import Clock
from store.errors import Conflict
from store.phones import PhoneStore
from store.records import Account, AccountIdentifier


class PhoneAccounts:
    def __init__(self, store: PhoneStore, vault: PiiVault, clock: Clock) -> None:
        self._store = store
        self._vault = vault
        self._clock = clock

    def blind_index(self, phone: str) -> str:
        return self._vault.blind_index("phone", phone)

    def seal(self, phone: str) -> str:
        return self._vault.seal("phone", phone)

    def open(self, sealed: str) -> str:
        return self._vault.open("phone", sealed)

    async def holder(self, phone: str) -> str | None:
        """The account whose verified phone this is (an unverified claim proves nothing)."""
        found = await self._store.holder(self.blind_index(phone))
        return found[0] if found is not None and found[1] else None

    async def account_of(self, phone: str) -> Account | None:
        """The account whose verified phone this is, read with it in one statement."""
        return await self._store.account_by_verified(self.blind_index(phone))

    async def verified_of(self, account_id: str) -> str | None:
        """The account's verified phone (11 digits), or None."""
        sealed = await self._store.verified_of(account_id)
        return None if sealed is None else self._vault.open("phone", sealed)

    async def register(self, phone: str, agreements: dict[str, str]) -> Account:
        """A new L1 account without a password, holding the verified ``phone``; raises
        ``Conflict`` when another account verified the number meanwhile."""
        now = self._clock.now()
        account = Account(
            id=str(uuid.uuid4()),
            username=f"m{secrets.token_hex(8)}",  # the person signs in by phone, not by name
            created_at=now,
            updated_at=now,
        )
        identifier = AccountIdentifier(
            account_id=account.id,
            type="phone",
            blind_index=self.blind_index(phone),
            value=self._vault.seal("phone", phone),
            verified=True,
            created_at=now,
        )
        await self._store.register(account, identifier, agreements, now)
        return account

    async def agreements_of(self, account_id: str) -> dict[str, str]:
        return await self._store.agreements_of(account_id)


__all__ = ["Conflict", "PhoneAccounts"]
