"""The append-only audit log: written inside the caller's transaction (so an admin change
without its entry cannot commit), read with filters and a cursor. Entries with an ``entry_id``
(batched ones, which a replay of the local spool may write again) are written once: a second
insert of the same id does nothing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from store.database import Database
from store.records import AuditEvent
from store.tables import AuditEventRow

_COLUMNS = (
    "event",
    "outcome",
    "actor",
    "target",
    "client_id",
    "ip",
    "request_id",
    "check",
    "details",
    "at",
    "entry_id",
)


def _record(row: AuditEventRow) -> AuditEvent:
    return AuditEvent(**{name: getattr(row, name) for name in (*_COLUMNS, "id")})


# Built once per dialect; a replayed entry (same entry_id) is skipped, not an error.
_INSERTS = {
    "postgresql": postgresql.insert(AuditEventRow).on_conflict_do_nothing(
        index_elements=["entry_id"]
    ),
    "sqlite": sqlite.insert(AuditEventRow).on_conflict_do_nothing(index_elements=["entry_id"]),
}


async def append(session: AsyncSession, *events: AuditEvent) -> None:
    # One executemany INSERT, without the ORM's unit of work: batches of issued tokens are big.
    statement = _INSERTS[session.bind.dialect.name]
    await session.execute(
        statement, [{name: getattr(event, name) for name in _COLUMNS} for event in events]
    )


async def append_alone(database: Database, *events: AuditEvent) -> None:
    """Append events that belong to no other change, all or none: one entry is one statement
    that commits alone (a sign-in's), a batch one transaction."""
    rows = [{name: getattr(event, name) for name in _COLUMNS} for event in events]
    insert = _INSERTS["sqlite" if database.is_sqlite else "postgresql"]
    if len(rows) == 1:
        await database.write(insert, rows[0])
        return
    async with database.begin() as connection:
        await connection.execute(insert, rows)


def matching(
    event: str | None = None,
    actor: str | None = None,
    target: str | None = None,
    since: float | None = None,
    until: float | None = None,
    client_id: str | None = None,
    outcome: str | None = None,
) -> list[Any]:
    """SQL conditions for the audit filters; ``event`` ending in ``.`` or ``*`` matches a family
    (``admin.*``)."""
    conditions: list[Any] = []
    if event:
        if event.endswith(("*", ".")):
            conditions.append(AuditEventRow.event.startswith(event.rstrip("*")))
        else:
            conditions.append(AuditEventRow.event == event)
    if actor:
        conditions.append(AuditEventRow.actor == actor)
    if target:
        conditions.append(AuditEventRow.target == target)
    if client_id:
        conditions.append(AuditEventRow.client_id == client_id)
    if outcome:
        conditions.append(AuditEventRow.outcome == outcome)
    if since is not None:
        conditions.append(AuditEventRow.at >= since)
    if until is not None:
        conditions.append(AuditEventRow.at < until)
    return conditions


async def query(
    session: AsyncSession, after_id: int = 0, limit: int = 100, **filters: Any
) -> list[AuditEvent]:
    """Events matching ``filters`` (see ``matching``) in the order they were written, after the
    cursor ``after_id``."""
    statement = select(AuditEventRow).where(AuditEventRow.id > after_id, *matching(**filters))
    rows = await session.scalars(statement.order_by(AuditEventRow.id).limit(limit))
    return [_record(row) for row in rows]


async def count_by_day(
    session: AsyncSession,
    events: Sequence[str],
    starts: Sequence[float],
    until: float | None = None,
) -> dict[tuple[str, int], int]:
    """How many of each event fell in each day: day ``i`` runs from ``starts[i]`` to
    ``starts[i + 1]`` (the last one to ``until``, or now). One statement: a sum per (event, day)
    over the rows since the first start (the ``(event, at)`` index finds them)."""
    bounds = [*starts[1:], until]
    columns = []
    for event in events:
        for start, end in zip(starts, bounds, strict=True):
            inside = and_(AuditEventRow.event == event, AuditEventRow.at >= start)
            if end is not None:
                inside = and_(inside, AuditEventRow.at < end)
            columns.append(func.coalesce(func.sum(case((inside, 1), else_=0)), 0))
    statement = select(*columns).where(
        AuditEventRow.at >= starts[0], AuditEventRow.event.in_(list(events))
    )
    if until is not None:
        statement = statement.where(AuditEventRow.at < until)
    row = (await session.execute(statement)).one()
    keys = [(event, day) for event in events for day in range(len(starts))]
    return {key: int(value) for key, value in zip(keys, row, strict=True)}


async def top_clients(
    session: AsyncSession,
    event: str,
    since: float,
    limit: int | None = 5,
    until: float | None = None,
) -> list[tuple[str, int]]:
    """The apps named most often by ``event`` since ``since`` (until ``until``), with their
    counts; every app named with ``limit`` None."""
    count = func.count().label("n")
    inside = [AuditEventRow.event == event, AuditEventRow.at >= since]
    if until is not None:
        inside.append(AuditEventRow.at < until)
    statement = (
        select(AuditEventRow.client_id, count)
        .where(*inside, AuditEventRow.client_id.is_not(None))
        .group_by(AuditEventRow.client_id)
        .order_by(count.desc(), AuditEventRow.client_id)
        .limit(limit)
    )
    return [(str(client_id), int(n)) for client_id, n in await session.execute(statement)]
