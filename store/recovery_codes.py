"""Recovery codes of the authenticator app: digests only, each usable once."""

from __future__ import annotations

from sqlalchemy import delete, func, select, update

from store.database import Database
from store.tables import RecoveryCodeRow


class RecoveryCodeStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def replace(self, account_id: str, digests: list[str], now: float) -> None:
        """A new set for the account; the old set is void (one transaction)."""
        async with self._db.transaction() as session:
            await session.execute(
                delete(RecoveryCodeRow).where(RecoveryCodeRow.account_id == account_id)
            )
            session.add_all(
                RecoveryCodeRow(account_id=account_id, digest=d, created_at=now, used_at=None)
                for d in digests
            )

    async def use(self, account_id: str, digest: str, now: float) -> bool:
        """Spend the code with this digest; of two uses at once exactly one succeeds."""
        async with self._db.transaction() as session:
            result = await session.execute(
                update(RecoveryCodeRow)
                .where(
                    RecoveryCodeRow.account_id == account_id,
                    RecoveryCodeRow.digest == digest,
                    RecoveryCodeRow.used_at.is_(None),
                )
                .values(used_at=now)
            )
            return result.rowcount == 1  # type: ignore[attr-defined]

    async def left(self, account_id: str) -> int:
        async with self._db.sessions() as session:
            count = await session.scalar(
                select(func.count()).where(
                    RecoveryCodeRow.account_id == account_id, RecoveryCodeRow.used_at.is_(None)
                )
            )
            return int(count or 0)

    async def remove(self, account_id: str) -> None:
        async with self._db.transaction() as session:
            await session.execute(
                delete(RecoveryCodeRow).where(RecoveryCodeRow.account_id == account_id)
            )
