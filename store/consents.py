"""Durable consents: which scopes an account allowed a client."""

from __future__ import annotations

from sqlalchemy import delete, select

from store.database import Database
from store.tables import ConsentRow


class ConsentStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def granted(self, account_id: str, client_id: str) -> frozenset[str]:
        async with self._db.sessions() as session:
            row = await session.get(ConsentRow, (account_id, client_id))
            return frozenset(row.scopes) if row else frozenset()

    async def grant(self, account_id: str, client_id: str, scopes: set[str], now: float) -> None:
        """Add ``scopes`` to what was granted before."""
        async with self._db.transaction() as session:
            row = await session.get(ConsentRow, (account_id, client_id), with_for_update=True)
            if row is None:
                session.add(
                    ConsentRow(
                        account_id=account_id,
                        client_id=client_id,
                        scopes=sorted(scopes),
                        granted_at=now,
                    )
                )
            else:
                row.scopes = sorted(set(row.scopes) | scopes)
                row.granted_at = now

    async def revoke(self, account_id: str, client_id: str) -> bool:
        async with self._db.transaction() as session:
            result = await session.execute(
                delete(ConsentRow).where(
                    ConsentRow.account_id == account_id, ConsentRow.client_id == client_id
                )
            )
            return result.rowcount == 1  # type: ignore[attr-defined]

    async def of_account(self, account_id: str) -> dict[str, frozenset[str]]:
        async with self._db.sessions() as session:
            rows = await session.scalars(
                select(ConsentRow).where(ConsentRow.account_id == account_id)
            )
            return {row.client_id: frozenset(row.scopes) for row in rows}
