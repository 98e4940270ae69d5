"""Setting a new password on an account (after a recovery or on the account page): the
password rules apply, and the new hash replaces the one read, so two changes at once cannot
both win unnoticed."""

from __future__ import annotations

from gateway.identity.errors import InvalidInput
from gateway.identity.passwords import Passwords
from policies.accounts import password_problem
from store.accounts import AccountStore
from store.clock import Clock
from store.errors import Conflict
from store.records import Account


class PasswordChanges:
    def __init__(self, store: AccountStore, passwords: Passwords, clock: Clock) -> None:
        self._store = store
        self._passwords = passwords
        self._clock = clock

    @staticmethod
    def problem(account: Account, password: str) -> str | None:
        return password_problem(password, account.username)

    async def current_is(self, account_id: str, password: str) -> bool:
        """Whether ``password`` is the account's password (the same work when it has none)."""
        account = await self._store.get(account_id)
        stored = account.password_hash if account is not None else None
        return (await self._passwords.verify(stored, password)).ok

    async def set(self, account_id: str, password: str) -> None:
        """Raises ``InvalidInput`` (the rules) or ``Conflict`` (changed meanwhile)."""
        account = await self._store.get(account_id)
        if account is None:
            raise Conflict("the account is gone")
        if problem := self.problem(account, password):
            raise InvalidInput("password", problem)
        new_hash = await self._passwords.hash_async(password)
        now = self._clock.now()
        if not await self._store.replace_password_hash(
            account_id, account.password_hash, new_hash, now
        ):
            raise Conflict("the password was changed meanwhile")
