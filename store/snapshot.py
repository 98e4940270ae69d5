"""Every durable table as plain JSON values, read in one consistent snapshot, and loaded back
into an empty database in one transaction: the body of a backup, the same for SQLite and
PostgreSQL (times are epoch seconds, JSON columns their documents).

The snapshot: on PostgreSQL one SERIALIZABLE READ ONLY DEFERRABLE transaction (pg_dump's),
which waits for a moment no concurrent transaction can make inconsistent; on SQLite one read
transaction, which in WAL mode sees the database as of its first read while writers go on."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Column, MetaData, Table, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from store.database import Database
from store.tables import Base

BATCH = 500  # rows an INSERT carries on restore
TABLES: dict[str, Table] = {str(table.name): table for table in Base.metadata.sorted_tables}


class SnapshotError(Exception):
    """The rows cannot be loaded as they are."""


class NotEmpty(SnapshotError):
    """The target database holds rows already."""


@asynccontextmanager
async def snapshot(database: Database) -> AsyncIterator[AsyncConnection]:
    """A connection whose reads all see one moment of the database."""
    if database.is_sqlite:
        # pysqlite opens no transaction for a SELECT: begin one by hand, outside its own.
        plain = database.engine.execution_options(isolation_level="AUTOCOMMIT")
        async with plain.connect() as connection:
            await connection.exec_driver_sql("BEGIN DEFERRED")
            try:
                yield connection
            finally:
                await connection.exec_driver_sql("ROLLBACK")
        return
    consistent = database.engine.execution_options(
        isolation_level="SERIALIZABLE", postgresql_readonly=True, postgresql_deferrable=True
    )
    async with consistent.connect() as connection, connection.begin():
        yield connection


async def dump(connection: AsyncConnection) -> AsyncIterator[dict[str, Any] | list[Any]]:
    """For each table, parents before children: ``{"table", "columns"}``, then each row as a
    list of values in that order."""
    for table in TABLES.values():
        columns = [str(column.name) for column in table.columns]
        yield {"table": str(table.name), "columns": columns}
        statement = select(table).order_by(*table.primary_key.columns)
        result = await connection.stream(statement.execution_options(yield_per=BATCH))
        async for rows in result.partitions(BATCH):  # a greenlet switch a batch, not a row
            for row in rows:
                yield list(row)


async def counts(connection: AsyncConnection | AsyncSession) -> dict[str, int]:
    """Rows in each table."""
    found = {}
    for name, table in TABLES.items():
        found[name] = (await connection.execute(select(func.count()).select_from(table))).scalar()
    return {name: int(count or 0) for name, count in found.items()}


def _shape(name: str, columns: list[str]) -> Table:
    """The table with just the archive's columns, typed as this version types them (an archive
    of an older schema may lack columns added since; their defaults stay the database's)."""
    known = TABLES.get(name)
    if known is None:
        raise SnapshotError(f"the archive holds a table this version does not know: {name}")
    unknown = [column for column in columns if column not in known.columns]
    if unknown:
        raise SnapshotError(f"the archive's {name} has columns this version does not know")
    return Table(name, MetaData(), *(Column(c, known.columns[c].type) for c in columns))


def _self_reference(table: Table) -> tuple[str, str] | None:
    """(the column naming another row, the column it names) of a table that refers to itself."""
    for fk in TABLES[table.name].foreign_keys:
        if fk.column.table.name == table.name:
            return fk.parent.name, fk.column.name
    return None


def _parents_first(rows: list[dict[str, Any]], ref: str, key: str) -> list[dict[str, Any]]:
    """Rows of a table that refers to itself (departments), each after the row it names."""
    by_key = {row[key]: row for row in rows}
    ordered: list[dict[str, Any]] = []
    placed: set[Any] = set()
    for first in rows:
        chain, row = [], first
        while row is not None and row[key] not in placed:
            chain.append(row)
            placed.add(row[key])
            row = by_key.get(row[ref])
        ordered.extend(reversed(chain))
    return ordered


class _Loader:
    """Rows into one table after another, in batches; a table that refers to itself is held
    until its last row, to be written parents first."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.table: Table | None = None
        self.columns: list[str] = []
        self.rows: list[dict[str, Any]] = []
        self.reference: tuple[str, str] | None = None
        self.written = 0

    async def start(self, name: str, columns: list[str]) -> None:
        await self.finish()
        self.table, self.columns = _shape(name, columns), columns
        self.reference = _self_reference(self.table)

    async def add(self, values: list[Any]) -> None:
        if self.table is None or len(values) != len(self.columns):
            raise SnapshotError("the archive holds a row outside a table")
        self.rows.append(dict(zip(self.columns, values, strict=True)))
        if len(self.rows) >= BATCH and self.reference is None:
            await self._write(self.rows)
            self.rows = []

    async def finish(self) -> None:
        if self.table is not None and self.rows:
            rows = self.rows
            if self.reference is not None:
                rows = _parents_first(rows, *self.reference)
            for start in range(0, len(rows), BATCH):
                await self._write(rows[start : start + BATCH])
        self.rows = []

    async def _write(self, rows: list[dict[str, Any]]) -> None:
        assert self.table is not None
        await self.session.execute(insert(self.table), rows)
        self.written += len(rows)


async def load(
    session: AsyncSession, records: Iterable[dict[str, Any] | list[Any]]
) -> tuple[int, dict[str, Any] | None]:
    """Insert the rows ``dump`` gave, into tables that must all be empty, up to the first
    record that is neither a table nor a row: the rows written and that record. The caller's
    transaction makes it all or nothing."""
    present = {name: count for name, count in (await counts(session)).items() if count}
    if present:
        held = ", ".join(f"{count} {name}" for name, count in sorted(present.items())[:5])
        raise NotEmpty(f"the target database is not empty (it holds {held})")
    loader = _Loader(session)
    after: dict[str, Any] | None = None
    for record in records:
        if isinstance(record, list):
            await loader.add(record)
        elif isinstance(record, dict) and "table" in record:
            await loader.start(str(record["table"]), [str(c) for c in record["columns"]])
        else:
            after = record if isinstance(record, dict) else None
            break
    await loader.finish()
    if session.bind.dialect.name != "sqlite":
        await _advance_sequences(session)
    return loader.written, after


async def _advance_sequences(session: AsyncSession) -> None:
    """PostgreSQL's serial columns go on after the highest restored value."""
    for table in TABLES.values():
        column = table.autoincrement_column
        if column is None:
            continue
        highest = func.max(column)
        await session.execute(
            select(
                func.setval(
                    func.pg_get_serial_sequence(table.name, column.name),
                    func.coalesce(highest, 1),
                    highest.is_not(None),
                )
            )
        )
