"""Accounts kept in memory for the token path (UserInfo, code exchange, refresh), as Keycloak
keeps users in its cache: each of those requests would otherwise read the same row again. Beside
them, the organisation facts (roles, groups, linked logins, department paths) each app visit and
refresh reads, for the same reason.

An entry is trusted only while this process hears every account change (store/account_changes:
PostgreSQL tells it when any account is updated or deleted, by whomever), so a disabled account
or a changed name shows at once on every instance, and for at most ``ttl`` seconds in any case.
PostgreSQL reports organisation changes on a channel of its own (migration 0021), per account
or "*" for all. A read that raced with a change is not kept. Entries hold no password hash, and
there are at most ``max_entries`` accounts and as many accounts' facts.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncEngine

from store.organisation import AccountFacts
from store.records import Account

MAX_ENTRIES = 10_000
LoadFacts = Callable[[str, str, Sequence[str]], Awaitable[AccountFacts]]
_FactsKey = tuple[str, tuple[str, ...]]  # (client id, department ids)


class AccountCache:
    def __init__(
        self,
        load: Callable[[str], Awaitable[Account | None]],
        engine: AsyncEngine,
        ttl: float,
        max_entries: int = MAX_ENTRIES,
        load_facts: LoadFacts | None = None,
    ) -> None:
        self._load = load
        self._load_facts = load_facts
        self._facts: dict[str, dict[_FactsKey, tuple[float, AccountFacts]]] = {}  # oldest first
        self._ttl = ttl
        self._max = max_entries
        self._entries: dict[str, tuple[float, Account]] = {}  # oldest first
        self._generation = 0  # moves at every change heard: a read that spans one is not kept
        # (needs the postgres extra's driver)
        from store.account_changes import ORGANISATION_CHANNEL, AccountChanges

        self._changes = AccountChanges(
            engine.url,
            self.changed,
            self.forget_all,
            {ORGANISATION_CHANNEL: self.organisation_changed},
        )

    async def start(self) -> None:
        await self._changes.start()

    async def close(self) -> None:
        await self._changes.close()
        self.forget_all()

    @property
    def listening(self) -> bool:
        """Whether entries are trusted: this process hears every account change."""
        return self._changes.listening

    async def get(self, account_id: str) -> Account | None:
        """The account as stored, without its password hash."""
        now = time.monotonic()
        trusted = self._changes.listening
        entry = self._entries.get(account_id)
        if entry is not None and entry[0] > now and trusted:
            return entry[1]
        generation = self._generation
        found = await self._load(account_id)
        if found is None:
            return None
        account = dataclasses.replace(found, password_hash=None)
        if trusted and generation == self._generation:
            self._keep(account_id, account, now)
        return account

    def _keep(self, account_id: str, account: Account, now: float) -> None:
        self._entries.pop(account_id, None)
        if len(self._entries) >= self._max:
            del self._entries[next(iter(self._entries))]
        self._entries[account_id] = (now + self._ttl, account)

    async def facts(
        self, account_id: str, client_id: str, department_ids: Sequence[str]
    ) -> AccountFacts:
        """The account's organisation facts for the app, roles that expire included (see
        ``AccountFacts.at``)."""
        assert self._load_facts is not None
        now = time.monotonic()
        key = (client_id, tuple(sorted(set(department_ids))))
        trusted = self._changes.listening
        entry = self._facts.get(account_id, {}).get(key)
        if entry is not None and entry[0] > now and trusted:
            return entry[1]
        generation = self._generation
        found = await self._load_facts(account_id, client_id, key[1])
        if trusted and generation == self._generation:
            kept = self._facts.pop(account_id, None) or {}
            if len(self._facts) >= self._max:
                del self._facts[next(iter(self._facts))]
            kept[key] = (now + self._ttl, found)
            self._facts[account_id] = kept
        return found

    def changed(self, account_id: str) -> None:
        self._generation += 1
        self._entries.pop(account_id, None)
        self._facts.pop(account_id, None)

    def organisation_changed(self, account_id: str) -> None:
        self._generation += 1
        if account_id == "*":
            self._facts.clear()
        else:
            self._facts.pop(account_id, None)

    def forget_all(self) -> None:
        self._generation += 1
        self._entries.clear()
        self._facts.clear()
