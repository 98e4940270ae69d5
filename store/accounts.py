"""Durable 一号通 accounts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, fields
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from store.admin import in_subtrees, page, update_stamped
from store.database import Database
from store.errors import Conflict
from store.records import Account
from store.sql_values import epoch
from store.tables import AccountRow

_FIELDS = [f.name for f in fields(Account)]
_BY_ID = select(AccountRow.__table__).where(AccountRow.id == bindparam("id"))
_HOT_BY_ID = f"SELECT {', '.join(_FIELDS)} FROM accounts WHERE id = $1"  # noqa: S608 - names
_HOT_BY_USERNAME = f"SELECT {', '.join(_FIELDS)} FROM accounts WHERE username = $1"  # noqa: S608


def _record(row: AccountRow) -> Account:
    return Account(**{name: getattr(row, name) for name in _FIELDS})


def _hot_record(row: Any) -> Account:
    values = dict(row)
    values["created_at"] = epoch(values["created_at"])
    values["updated_at"] = epoch(values["updated_at"])
    return Account(**values)


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
        if self._db.hot is not None:
            found = await self._db.hot.fetchrow(_HOT_BY_ID, account_id)
            return None if found is None else _hot_record(found)
        async with self._db.statement() as connection:
            result = await connection.execute(_BY_ID, {"id": account_id})
            row = result.first()
            return None if row is None else _record(row)

    async def by_username(self, username: str) -> Account | None:
        if self._db.hot is not None:
            found = await self._db.hot.fetchrow(_HOT_BY_USERNAME, username)
            return None if found is None else _hot_record(found)
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


# -- administration: functions that take the caller's session ----------------------------------


async def get_account(session: AsyncSession, account_id: str) -> Account | None:
    row = await session.get(AccountRow, account_id, populate_existing=True)
    return None if row is None else _record(row)


async def insert_account(session: AsyncSession, account: Account) -> Account:
    taken = select(AccountRow.id).where(AccountRow.username == account.username)
    if (await session.execute(taken)).first() is not None:
        raise Conflict(f"the username {account.username!r} is taken")
    session.add(AccountRow(**asdict(account)))
    try:
        await session.flush()
    except IntegrityError as error:  # taken at the same moment
        raise Conflict(f"the username {account.username!r} is taken") from error
    return account


async def list_accounts(
    session: AsyncSession,
    paths: Sequence[str] | None,
    offset: int,
    limit: int,
    *,
    username: str | None = None,
    department_id: str | None = None,
    disabled: bool | None = None,
    kind: str | None = None,
) -> tuple[list[Account], int]:
    """Accounts of departments inside the subtrees ``paths`` (None: every account)."""
    query = select(AccountRow)
    if (limit_to := in_subtrees(AccountRow.department_id, paths)) is not None:
        query = query.where(limit_to)
    if username is not None:
        query = query.where(AccountRow.username.startswith(username, autoescape=True))
    if department_id is not None:
        query = query.where(AccountRow.department_id == department_id)
    if disabled is not None:
        query = query.where(AccountRow.disabled == disabled)
    if kind is not None:
        query = query.where(AccountRow.kind == kind)
    rows, total = await page(session, query, [AccountRow.username], offset, limit)
    return [_record(row) for row in rows], total


async def update_account(
    session: AsyncSession,
    account_id: str,
    expected_updated_at: float | None,
    values: dict[str, Any],
    now: float,
) -> Account:
    """Change the account if it still is as the editor read it (StaleVersion otherwise)."""
    row = await update_stamped(
        session, AccountRow, AccountRow.id, account_id, expected_updated_at, values, now
    )
    return _record(row)
