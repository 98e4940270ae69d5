"""Pairwise subject identifiers and the accounts behind them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from store.database import Database
from store.tables import SubjectIdentifierRow


class SubjectStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def remember(self, sector: str, subject: str, account_id: str) -> None:
        """Record the mapping once; repeating it is harmless."""
        try:
            async with self._db.transaction() as session:
                if await session.get(SubjectIdentifierRow, (sector, subject)) is None:
                    session.add(
                        SubjectIdentifierRow(sector=sector, subject=subject, account_id=account_id)
                    )
        except IntegrityError:
            pass  # another request recorded the same mapping at the same moment

    async def account_of(self, sector: str, subject: str) -> str | None:
        async with self._db.sessions() as session:
            return await session.scalar(
                select(SubjectIdentifierRow.account_id).where(
                    SubjectIdentifierRow.sector == sector, SubjectIdentifierRow.subject == subject
                )
            )
