"""Durable identifiers of accounts and the department logins linked to them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, fields
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from store.accounts import account_row
from store.database import Database
from store.errors import Conflict
from store.records import Account, AccountIdentifier, LinkedIdentity
from store.tables import AccountIdentifierRow, AccountRow, LinkedIdentityRow

_IDENTIFIER_FIELDS = [f.name for f in fields(AccountIdentifier)]
_LINK_FIELDS = [f.name for f in fields(LinkedIdentity)]


async def holders(session: AsyncSession, wanted: dict[str, str]) -> dict[str, str]:
    """In the caller's transaction: the account holding each (type -> blind index) given."""
    if not wanted:
        return {}
    rows = await session.execute(
        select(AccountIdentifierRow.type, AccountIdentifierRow.account_id).where(_keys(wanted))
    )
    return {kind: account_id for kind, account_id in rows if kind in wanted}


def _keys(wanted: dict[str, str]) -> Any:
    """SQL condition: the rows of these (type, blind index) pairs, by the primary key (type
    first: the blind index alone would read the whole table)."""
    return or_(
        *[
            and_(AccountIdentifierRow.type == kind, AccountIdentifierRow.blind_index == index)
            for kind, index in wanted.items()
        ]
    )


async def add_identifiers_in(session: AsyncSession, identifiers: list[AccountIdentifier]) -> None:
    """In the caller's transaction: identifiers no account holds yet (callers check first)."""
    session.add_all(AccountIdentifierRow(**asdict(i)) for i in identifiers)
    await session.flush()


class IdentityStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def accounts_by_index(self, wanted: dict[str, str]) -> dict[str, str]:
        """Account ids holding each (type -> blind index) given; absent types are left out."""
        if not wanted:
            return {}
        async with self._db.sessions() as session:
            rows = await session.scalars(select(AccountIdentifierRow).where(_keys(wanted)))
            return {
                row.type: row.account_id for row in rows if wanted.get(row.type) == row.blind_index
            }

    async def identifiers_of(self, account_id: str) -> list[AccountIdentifier]:
        async with self._db.sessions() as session:
            rows = await session.scalars(
                select(AccountIdentifierRow).where(AccountIdentifierRow.account_id == account_id)
            )
            return [
                AccountIdentifier(**{n: getattr(r, n) for n in _IDENTIFIER_FIELDS}) for r in rows
            ]

    async def phones_of(self, account_ids: Sequence[str]) -> list[AccountIdentifier]:
        """The phone identifiers (sealed) of these accounts, in one query."""
        if not account_ids:
            return []
        async with self._db.sessions() as session:
            rows = await session.scalars(
                select(AccountIdentifierRow).where(
                    AccountIdentifierRow.type == "phone",
                    AccountIdentifierRow.account_id.in_(list(account_ids)),
                )
            )
            return [
                AccountIdentifier(**{n: getattr(r, n) for n in _IDENTIFIER_FIELDS}) for r in rows
            ]

    async def seal_clear_phones(self, sealed: Callable[[str, str], AccountIdentifier]) -> int:
        """Move phones still written in clear on accounts (``accounts.phone``, as admins typed
        them before) to the account's identifiers, sealed by ``sealed(account_id, phone)``
        and unverified; all in one transaction. A phone another account holds is dropped."""
        async with self._db.transaction() as session:
            rows = (
                await session.execute(
                    select(AccountRow.id, AccountRow.phone).where(AccountRow.phone.is_not(None))
                )
            ).all()
            for account_id, phone in rows:
                identifier = sealed(account_id, phone)
                key = (identifier.type, identifier.blind_index)
                if await session.get(AccountIdentifierRow, key) is None:
                    session.add(AccountIdentifierRow(**asdict(identifier)))
            if rows:
                await session.execute(
                    update(AccountRow).where(AccountRow.phone.is_not(None)).values(phone=None)
                )
            return len(rows)

    async def add_identifiers(self, identifiers: list[AccountIdentifier]) -> None:
        """Record identifiers of an account; one another account holds already is left to it."""
        async with self._db.transaction() as session:
            for identifier in identifiers:
                key = (identifier.type, identifier.blind_index)
                if await session.get(AccountIdentifierRow, key) is None:
                    session.add(AccountIdentifierRow(**asdict(identifier)))

    async def link(self, link: LinkedIdentity, identifiers: list[AccountIdentifier]) -> None:
        """Link a department login to an existing account, adding the identifiers it brought
        that no account holds yet; all or nothing."""
        try:
            async with self._db.transaction() as session:
                session.add(LinkedIdentityRow(**asdict(link)))
                for identifier in identifiers:
                    key = (identifier.type, identifier.blind_index)
                    if await session.get(AccountIdentifierRow, key) is None:
                        session.add(AccountIdentifierRow(**asdict(identifier)))
        except IntegrityError as error:
            raise Conflict("this department login is linked already") from error

    async def provision(
        self, account: Account, link: LinkedIdentity, identifiers: list[AccountIdentifier]
    ) -> None:
        """Create an account for a department login, with its identifiers; all or nothing."""
        try:
            async with self._db.transaction() as session:
                session.add(account_row(account))
                await session.flush()
                session.add(LinkedIdentityRow(**asdict(link)))
                session.add_all(AccountIdentifierRow(**asdict(i)) for i in identifiers)
        except IntegrityError as error:
            raise Conflict("an identifier or the login is held by another account") from error

    async def linked(self, provider_id: str, subject: str) -> LinkedIdentity | None:
        async with self._db.sessions() as session:
            row = await session.get(LinkedIdentityRow, (provider_id, subject))
            return (
                None
                if row is None
                else LinkedIdentity(**{n: getattr(row, n) for n in _LINK_FIELDS})
            )

    async def touch_link(self, provider_id: str, subject: str, attributes: str, now: float) -> None:
        async with self._db.transaction() as session:
            row = await session.get(LinkedIdentityRow, (provider_id, subject))
            if row is not None:
                row.last_login_at, row.last_attributes = now, attributes

    async def links_of(self, account_id: str) -> list[LinkedIdentity]:
        async with self._db.sessions() as session:
            rows = await session.scalars(
                select(LinkedIdentityRow).where(LinkedIdentityRow.account_id == account_id)
            )
            return [LinkedIdentity(**{n: getattr(r, n) for n in _LINK_FIELDS}) for r in rows]

    async def unlink(self, account_id: str, provider_id: str, subject: str) -> bool:
        async with self._db.transaction() as session:
            row = await session.get(LinkedIdentityRow, (provider_id, subject))
            if row is None or row.account_id != account_id:
                return False
            await session.delete(row)
            return True
