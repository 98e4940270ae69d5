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
from store.tables import AccountRow

_FIELDS = [f.name for f in fields(Account)]
_TABLE = AccountRow.__table__
_COLUMNS = [_TABLE.c[name] for name in _FIELDS]
# The token path's and sign-in's reads, built once (SQLAlchemy caches their compiled form).
_BY_ID = select(*_COLUMNS).where(_TABLE.c.id == bindparam("id"))
_BY_USERNAME = select(*_COLUMNS).where(_TABLE.c.username == bindparam("username"))


def account_row(account: Account) -> AccountRow:
    """The row of a new account. Its phone is never written here: it is kept sealed, with a
    blind index, among the account's identifiers (``store/identities.py``)."""
    return AccountRow(**(asdict(account) | {"phone": None}))


def _escaped(text: str) -> str:
    """``text`` as the fixed start of a LIKE pattern: one literal parameter, so that PostgreSQL
    plans a range scan of a ``varchar_pattern_ops`` index."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _record(row: AccountRow) -> Account:
    return Account(**{name: getattr(row, name) for name in _FIELDS})


def _from_columns(row: Any) -> Account:
    return Account(*row)


class AccountStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def create(self, account: Account) -> Account:
        try:
            async with self._db.transaction() as session:
                session.add(account_row(account))
        except IntegrityError as error:
            raise Conflict(f"username {account.username!r} is taken") from error
        return account

    async def get(self, account_id: str) -> Account | None:
        row = await self._db.read_one(_BY_ID, {"id": account_id})
        return None if row is None else _from_columns(row)

    async def by_username(self, username: str) -> Account | None:
        row = await self._db.read_one(_BY_USERNAME, {"username": username})
        return None if row is None else _from_columns(row)

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
    session.add(account_row(account))
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
    name: str | None = None,
    name_prefix: str | None = None,
    count_limit: int | None = None,
) -> tuple[list[Account], int]:
    """Accounts of departments inside the subtrees ``paths`` (None: every account); ``name``:
    names containing it; ``name_prefix``: names starting with it (an index finds them)."""
    query = select(AccountRow)
    if (limit_to := in_subtrees(AccountRow.department_id, paths)) is not None:
        query = query.where(limit_to)
    if username is not None:
        query = query.where(AccountRow.username.like(_escaped(username) + "%", escape="\\"))
    if department_id is not None:
        query = query.where(AccountRow.department_id == department_id)
    if disabled is not None:
        query = query.where(AccountRow.disabled == disabled)
    if kind is not None:
        query = query.where(AccountRow.kind == kind)
    if name is not None:
        query = query.where(AccountRow.name.contains(name, autoescape=True))
    if name_prefix is not None:
        query = query.where(AccountRow.name.like(_escaped(name_prefix) + "%", escape="\\"))
    rows, total = await page(session, query, [AccountRow.username], offset, limit, count_limit)
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
