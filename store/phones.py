"""Accounts found and registered by their verified phone number (SMS-code sign-in)."""

from __future__ import annotations

from dataclasses import asdict, fields

from sqlalchemy import bindparam, delete, or_, select
from sqlalchemy.exc import IntegrityError

from store.accounts import account_row
from store.database import Database
from store.errors import Conflict
from store.records import Account, AccountIdentifier
from store.tables import AccountIdentifierRow, AccountRow, AgreementRow

_ACCOUNT = AccountRow.__table__
_PHONE = AccountIdentifierRow.__table__
# The SMS sign-in's read: the account holding a verified phone, in one statement.
_BY_VERIFIED_PHONE = (
    select(*(_ACCOUNT.c[f.name] for f in fields(Account)))
    .join(_PHONE, _PHONE.c.account_id == _ACCOUNT.c.id)
    .where(
        _PHONE.c.type == "phone",
        _PHONE.c.blind_index == bindparam("blind_index"),
        _PHONE.c.verified.is_(True),
    )
)


class PhoneStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def holder(self, blind_index: str) -> tuple[str, bool] | None:
        """The account holding the phone with this blind index, and whether it is verified."""
        async with self._db.sessions() as session:
            row = (
                await session.execute(
                    select(AccountIdentifierRow.account_id, AccountIdentifierRow.verified).where(
                        AccountIdentifierRow.type == "phone",
                        AccountIdentifierRow.blind_index == blind_index,
                    )
                )
            ).first()
            return None if row is None else (row[0], bool(row[1]))

    async def account_by_verified(self, blind_index: str) -> Account | None:
        """The account whose verified phone has this blind index."""
        row = await self._db.read_one(_BY_VERIFIED_PHONE, {"blind_index": blind_index})
        return None if row is None else Account(*row)

    async def verified_of(self, account_id: str) -> str | None:
        """The sealed value of the account's verified phone, if it has one."""
        async with self._db.sessions() as session:
            return await session.scalar(
                select(AccountIdentifierRow.value).where(
                    AccountIdentifierRow.account_id == account_id,
                    AccountIdentifierRow.type == "phone",
                    AccountIdentifierRow.verified.is_(True),
                )
            )

    async def register(
        self,
        account: Account,
        phone: AccountIdentifier,
        agreements: dict[str, str],
        now: float,
    ) -> None:
        """Create ``account`` holding the verified ``phone`` and the agreements it accepted
        (document -> version); all or nothing. An unverified claim on the number by another
        account gives way to the person who proved they hold it."""
        try:
            async with self._db.transaction() as session:
                await session.execute(
                    delete(AccountIdentifierRow).where(
                        AccountIdentifierRow.type == "phone",
                        AccountIdentifierRow.blind_index == phone.blind_index,
                        AccountIdentifierRow.verified.is_(False),
                    )
                )
                session.add(account_row(account))
                await session.flush()
                session.add(AccountIdentifierRow(**asdict(phone)))
                session.add_all(
                    AgreementRow(
                        account_id=account.id, document=doc, version=version, accepted_at=now
                    )
                    for doc, version in agreements.items()
                )
        except IntegrityError as error:
            raise Conflict("the phone or the username is held by another account") from error

    async def agreements_of(self, account_id: str) -> dict[str, str]:
        async with self._db.sessions() as session:
            rows = await session.scalars(
                select(AgreementRow).where(AgreementRow.account_id == account_id)
            )
            return {row.document: row.version for row in rows}


async def replace_verified_phone(
    database: Database, account_id: str, phone: AccountIdentifier
) -> None:
    """The account's verified phone becomes ``phone`` (the old one is forgotten); ``Conflict``
    when another account verified the number. An unverified claim on it gives way."""
    try:
        async with database.transaction() as session:
            await session.execute(
                delete(AccountIdentifierRow).where(
                    AccountIdentifierRow.type == "phone",
                    or_(
                        AccountIdentifierRow.account_id == account_id,
                        (AccountIdentifierRow.blind_index == phone.blind_index)
                        & AccountIdentifierRow.verified.is_(False),
                    ),
                )
            )
            await session.flush()
            session.add(AccountIdentifierRow(**asdict(phone)))
    except IntegrityError as error:
        raise Conflict("the phone is held by another account") from error
