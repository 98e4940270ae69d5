"""Durable 一号通 accounts."""

from __future__ import annotations

from dataclasses import asdict, fields

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from store.database import Database
from store.errors import Conflict
from store.records import Account
from store.tables import AccountRow

_FIELDS = [f.name for f in fields(Account)]


def _record(row: AccountRow) -> Account:
    return Account(**{name: getattr(row, name) for name in _FIELDS})


class AccountStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def create(self, account: Account) -> Account:
        try:
            async with self._db.transaction() as session:
                session.add(AccountRow(**asdict(account)))
        except IntegrityError as error:
            raise Conflict(f"username {account.username!r} is taken") from error
        return account

    async def get(self, account_id: str) -> Account | None:
        async with self._db.sessions() as session:
            row = await session.get(AccountRow, account_id)
            return None if row is None else _record(row)

    async def by_username(self, username: str) -> Account | None:
        async with self._db.sessions() as session:
            row = await session.scalar(select(AccountRow).where(AccountRow.username == username))
            return None if row is None else _record(row)

    async def replace_password_hash(
        self, account_id: str, old_hash: str | None, new_hash: str, now: float
    ) -> bool:
        """Swap the hash only if it is still ``old_hash``: a rehash at login must not undo a
        password change that happened meanwhile."""
        async with self._db.transaction() as session:
            result = await session.execute(
                update(AccountRow)
                .where(AccountRow.id == account_id, AccountRow.password_hash == old_hash)
                .values(password_hash=new_hash, updated_at=now)
            )
            return result.rowcount == 1  # type: ignore[attr-defined]
