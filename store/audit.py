"""The append-only audit log: written inside the caller's transaction (so an admin change
without its entry cannot commit), read with filters and a cursor."""

from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

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
)


def _record(row: AuditEventRow) -> AuditEvent:
    return AuditEvent(**{name: getattr(row, name) for name in (*_COLUMNS, "id")})


async def append(session: AsyncSession, *events: AuditEvent) -> None:
    # One executemany INSERT, without the ORM's unit of work: batches of issued tokens are big.
    await session.execute(
        insert(AuditEventRow),
        [{name: getattr(event, name) for name in _COLUMNS} for event in events],
    )


async def query(
    session: AsyncSession,
    after_id: int = 0,
    limit: int = 100,
    event: str | None = None,
    actor: str | None = None,
    target: str | None = None,
    since: float | None = None,
    until: float | None = None,
) -> list[AuditEvent]:
    """Events in the order they were written, after the cursor ``after_id``; ``event`` ending
    in ``.`` or ``*`` matches a family (``admin.*``)."""
    statement = select(AuditEventRow).where(AuditEventRow.id > after_id)
    if event:
        if event.endswith(("*", ".")):
            statement = statement.where(AuditEventRow.event.startswith(event.rstrip("*")))
        else:
            statement = statement.where(AuditEventRow.event == event)
    if actor:
        statement = statement.where(AuditEventRow.actor == actor)
    if target:
        statement = statement.where(AuditEventRow.target == target)
    if since is not None:
        statement = statement.where(AuditEventRow.at >= since)
    if until is not None:
        statement = statement.where(AuditEventRow.at < until)
    rows = await session.scalars(statement.order_by(AuditEventRow.id).limit(limit))
    return [_record(row) for row in rows]
