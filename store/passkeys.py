"""Durable passkeys (WebAuthn credentials), by credential id and by account."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from store.database import Database
from store.tables import PasskeyRow


@dataclass(frozen=True, slots=True)
class Passkey:
    credential_id: str  # base64url, as the browser names it
    account_id: str
    public_key: str  # COSE, base64url
    sign_count: int
    transports: list[str]
    aaguid: str
    backed_up: bool
    name: str
    created_at: float
    last_used_at: float | None


def _record(row: PasskeyRow) -> Passkey:
    return Passkey(
        row.credential_id,
        row.account_id,
        row.public_key,
        row.sign_count,
        list(row.transports or []),
        row.aaguid,
        row.backed_up,
        row.name,
        row.created_at,
        row.last_used_at,
    )


class PasskeyStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def get(self, credential_id: str) -> Passkey | None:
        async with self._db.sessions() as session:
            row = await session.get(PasskeyRow, credential_id)
            return None if row is None else _record(row)

    async def of_account(self, account_id: str) -> list[Passkey]:
        async with self._db.sessions() as session:
            rows = await session.scalars(
                select(PasskeyRow)
                .where(PasskeyRow.account_id == account_id)
                .order_by(PasskeyRow.created_at)
            )
            return [_record(row) for row in rows]

    async def count(self, account_id: str) -> int:
        async with self._db.sessions() as session:
            found = await session.scalar(
                select(func.count()).where(PasskeyRow.account_id == account_id)
            )
            return int(found or 0)

    async def add(self, passkey: Passkey) -> bool:
        """False when the credential is registered already (to anyone)."""
        try:
            async with self._db.transaction() as session:
                if await session.get(PasskeyRow, passkey.credential_id) is not None:
                    return False
                session.add(PasskeyRow(**{f: getattr(passkey, f) for f in Passkey.__slots__}))
            return True
        except IntegrityError:
            return False

    async def use(self, credential_id: str, sign_count: int, now: float) -> bool:
        """Record a sign-in whose authenticator reported ``sign_count``: only if the counter
        went up (or the authenticator keeps none, both zero), so of a clone and its original,
        or of two uses of one response, at most one is accepted."""
        moved = or_(
            PasskeyRow.sign_count < sign_count,
            and_(PasskeyRow.sign_count == 0, sign_count == 0),
        )
        async with self._db.transaction() as session:
            result = await session.execute(
                update(PasskeyRow)
                .where(PasskeyRow.credential_id == credential_id, moved)
                .values(sign_count=sign_count, last_used_at=now)
            )
            return result.rowcount == 1  # type: ignore[attr-defined]

    async def rename(self, account_id: str, credential_id: str, name: str) -> bool:
        async with self._db.transaction() as session:
            result = await session.execute(
                update(PasskeyRow)
                .where(
                    PasskeyRow.credential_id == credential_id, PasskeyRow.account_id == account_id
                )
                .values(name=name)
            )
            return result.rowcount == 1  # type: ignore[attr-defined]

    async def remove(self, account_id: str, credential_id: str) -> bool:
        async with self._db.transaction() as session:
            result = await session.execute(
                delete(PasskeyRow).where(
                    PasskeyRow.credential_id == credential_id, PasskeyRow.account_id == account_id
                )
            )
            return result.rowcount == 1  # type: ignore[attr-defined]
