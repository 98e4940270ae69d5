"""Durable identifiers of accounts and the department logins linked to them."""

from __future__ import annotations

from dataclasses import asdict, fields

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from store.database import Database
from store.errors import Conflict
from store.records import Account, AccountIdentifier, LinkedIdentity
from store.tables import AccountIdentifierRow, AccountRow, LinkedIdentityRow

_IDENTIFIER_FIELDS = [f.name for f in fields(AccountIdentifier)]
_LINK_FIELDS = [f.name for f in fields(LinkedIdentity)]


class IdentityStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def accounts_by_index(self, wanted: dict[str, str]) -> dict[str, str]:
        """Account ids holding each (type -> blind index) given; absent types are left out."""
        if not wanted:
            return {}
        async with self._db.sessions() as session:
            rows = await session.scalars(
                select(AccountIdentifierRow).where(
                    AccountIdentifierRow.blind_index.in_(list(wanted.values()))
                )
            )
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
                session.add(AccountRow(**asdict(account)))
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
