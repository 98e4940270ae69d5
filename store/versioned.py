"""Optimistic concurrency for admin edits: a row changes only while its ``version`` is still the
one the editor read (the ETag), and every change bumps it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from store.errors import NotFound, StaleVersion


async def update_versioned(
    session: AsyncSession, table: Any, key: Any, expected: int | None, values: dict[str, Any]
) -> None:
    """Apply ``values`` to the row ``key`` if its version is ``expected`` (None: any version).
    Raises NotFound or StaleVersion and changes nothing then."""
    row = await session.get(table, key, with_for_update=True, populate_existing=True)
    if row is None:
        raise NotFound(f"{table.__tablename__} {key!r}")
    if expected is not None and row.version != expected:
        raise StaleVersion(f"{table.__tablename__} {key!r} is at version {row.version}")
    statement = (
        update(table)
        .where(*[column == value for column, value in _key_columns(table, key)])
        .where(table.version == row.version)
        .values(**values, version=row.version + 1)
    )
    result = await session.execute(statement)
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise StaleVersion(f"{table.__tablename__} {key!r} changed meanwhile")
    await session.refresh(row)


def _key_columns(table: Any, key: Any) -> list[tuple[Any, Any]]:
    columns = list(table.__table__.primary_key.columns)
    values = key if isinstance(key, tuple) else (key,)
    pairs = zip(columns, values, strict=True)
    return [(getattr(table, column.key), value) for column, value in pairs]
