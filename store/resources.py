"""Department APIs registered as protected resources (RFC 8707), by audience URI."""

from __future__ import annotations

from dataclasses import asdict, fields

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.database import Database
from store.errors import Conflict
from store.records import Resource
from store.tables import ResourceRow

_FIELDS = [f.name for f in fields(Resource)]
_LISTS = {"scopes", "allowed_clients", "exchange_clients"}


def _record(row: ResourceRow) -> Resource:
    values = {name: getattr(row, name) for name in _FIELDS}
    for name in _LISTS:
        values[name] = tuple(values[name])
    return Resource(**values)


def _row(resource: Resource) -> ResourceRow:
    values = asdict(resource)
    for name in _LISTS:
        values[name] = list(values[name])
    return ResourceRow(**values)


class ResourceStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def list(self) -> list[Resource]:
        async with self._db.sessions() as session:
            rows = await session.scalars(select(ResourceRow).order_by(ResourceRow.audience))
            return [_record(row) for row in rows]


# -- administration: in the caller's session (the change and its audit entry commit together) --


async def insert_resource(session: AsyncSession, resource: Resource) -> Resource:
    if await session.get(ResourceRow, resource.audience) is not None:
        raise Conflict(f"a resource with the audience {resource.audience!r} exists")
    session.add(_row(resource))
    await session.flush()
    return resource


async def get_resource(session: AsyncSession, audience: str) -> Resource | None:
    row = await session.get(ResourceRow, audience, populate_existing=True)
    return None if row is None else _record(row)


async def delete_resource(session: AsyncSession, audience: str) -> bool:
    result = await session.execute(delete(ResourceRow).where(ResourceRow.audience == audience))
    return bool(result.rowcount)  # type: ignore[attr-defined]
