"""The 一号通 account service: creating local accounts and checking their passwords."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Awaitable, Callable

from gateway.identity.account_cache import AccountCache
from gateway.identity.errors import AlreadyExists, InvalidInput
from gateway.identity.passwords import Passwords
from policies.accounts import (
    canonical_phone,
    canonical_username,
    email_problem,
    password_problem,
    username_problem,
)
from store.accounts import AccountStore
from store.clock import Clock
from store.errors import Conflict
from store.records import Account


def checked_profile(
    *, username: str, name: str | None, phone: str | None, email: str | None
) -> Account:
    """A new account's names and contact details, checked and in canonical form (no password,
    no times yet): what sign-up, the admin API and bulk import each check."""
    username = canonical_username(username)
    if problem := username_problem(username):
        raise InvalidInput("username", problem)
    if name is not None and not (0 < len(name.strip()) <= 200):
        raise InvalidInput("name", "a name has 1 to 200 characters")
    if phone is not None:
        canonical = canonical_phone(phone)
        if canonical is None:
            raise InvalidInput("phone", "not a mobile number (11 digits, or +country format)")
        phone = canonical
    if email is not None:
        email = email.strip()
        if problem := email_problem(email):
            raise InvalidInput("email", problem)
        email = email.lower()
    return Account(
        id=str(uuid.uuid4()),
        username=username,
        name=name.strip() if name else None,
        phone=phone,
        email=email,
    )


class AccountService:
    def __init__(
        self,
        store: AccountStore,
        passwords: Passwords,
        clock: Clock,
        on_created: Callable[[Account], Awaitable[None]] | None = None,
        cache: AccountCache | None = None,
    ) -> None:
        self._store = store
        self._passwords = passwords
        self._clock = clock
        self._on_created = on_created  # e.g. index the new account's identifiers
        self._cache = cache  # for ``current``; PostgreSQL only

    async def close(self) -> None:
        if self._cache is not None:
            await self._cache.close()

    async def create_local(
        self,
        *,
        username: str,
        password: str,
        name: str | None = None,
        phone: str | None = None,
        email: str | None = None,
    ) -> Account:
        account = await self.new_local(
            username=username, password=password, name=name, phone=phone, email=email
        )
        try:
            created = await self._store.create(account)
        except Conflict as error:
            raise AlreadyExists(f"the username {account.username!r} is taken") from error
        await self.announce(created)
        return created

    async def new_local(
        self,
        *,
        username: str,
        password: str,
        name: str | None = None,
        phone: str | None = None,
        email: str | None = None,
    ) -> Account:
        """A checked local account with its password hashed, not stored yet (the admin service
        stores it in the transaction that audits it)."""
        profile = checked_profile(username=username, name=name, phone=phone, email=email)
        if problem := password_problem(password, profile.username):
            raise InvalidInput("password", problem)
        now = self._clock.now()
        return dataclasses.replace(
            profile,
            password_hash=await self._passwords.hash_async(password),
            created_at=now,
            updated_at=now,
        )

    async def announce(self, account: Account) -> None:
        """What follows a new account once it is stored (its identifiers are indexed)."""
        if self._on_created is not None:
            await self._on_created(account)

    async def adopt_password(self, account_id: str, new_hash: str) -> bool:
        """Give an account without a password this (migrated) hash; never replaces one."""
        return await self._store.replace_password_hash(
            account_id, None, new_hash, self._clock.now()
        )

    async def get(self, account_id: str) -> Account | None:
        return await self._store.get(account_id)

    async def current(self, account_id: str) -> Account | None:
        """The account for the token path (UserInfo, code exchange, refresh), without its
        password hash: from memory where this process hears every account change
        (identity/account_cache.py), else from the database."""
        if self._cache is not None:
            return await self._cache.get(account_id)
        account = await self._store.get(account_id)
        return None if account is None else dataclasses.replace(account, password_hash=None)

    async def password_holder(self, username: str) -> Account | None:
        """The account a 一号通 password for ``username`` is checked against, with its hash."""
        return await self._store.by_username(canonical_username(username))

    async def authenticate(
        self,
        username: str,
        password: str,
        *,
        holder: asyncio.Future[Account | None] | None = None,
    ) -> Account | None:
        """The account when the password is right; None otherwise (unknown user, disabled,
        wrong password) after the same amount of work. Rehashes when parameters changed.
        ``holder``: ``password_holder(username)`` already under way beside the sign-in's reads."""
        account = await (holder if holder is not None else self.password_holder(username))
        checked = await self._passwords.verify(account.password_hash if account else None, password)
        if account is None or not checked.ok or account.disabled:
            return None
        if checked.new_hash:
            await self._store.replace_password_hash(
                account.id, account.password_hash, checked.new_hash, self._clock.now()
            )
        return account
