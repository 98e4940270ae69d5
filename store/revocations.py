"""Revocations kept durably: the marks of revoked access tokens and ended SSO sessions, each
until the tokens it stops would have expired. The expiring store holds the same marks as the
copy the token path reads; this table is what it is rebuilt from when it loses them."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite

from store.database import Database
from store.tables import RevocationRow


class RevocationStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def add(self, kind: str, values: list[str], expires_at: float) -> None:
        """Keep the marks; one already kept stays as it was (a mark is the same whoever
        writes it)."""
        if not values:
            return
        dialect = sqlite if self._db.is_sqlite else postgresql
        statement = dialect.insert(RevocationRow).on_conflict_do_nothing()
        rows = [{"kind": kind, "value": value, "expires_at": expires_at} for value in values]
        async with self._db.transaction() as session:
            await session.execute(statement, rows)

    async def live(self, now: float) -> list[tuple[str, str, float]]:
        """(kind, value, expires_at) of every mark not yet expired."""
        statement = select(RevocationRow.kind, RevocationRow.value, RevocationRow.expires_at)
        async with self._db.sessions() as session:
            rows = await session.execute(statement.where(RevocationRow.expires_at > now))
            return [(row.kind, row.value, row.expires_at) for row in rows]

    async def purge(self, now: float) -> int:
        """Forget the marks whose tokens have expired; how many went."""
        async with self._db.transaction() as session:
            result = await session.execute(
                delete(RevocationRow).where(RevocationRow.expires_at <= now)
            )
            return result.rowcount or 0
