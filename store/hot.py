"""The busiest statements on PostgreSQL, run on the driver (asyncpg) directly.

A statement through SQLAlchemy's execution layer costs about 0.45 ms of CPU here against
0.16 ms on asyncpg with the same pooled connection, and a token request runs several. So the
few statements on the token, UserInfo and refresh paths are written once in PostgreSQL's SQL
and run here; everything else, and every statement on SQLite, keeps going through SQLAlchemy.
Connections come from SQLAlchemy's pool, so there is one pool and one outage behaviour: a
connection the server dropped raises the same ``DBAPIError`` (marked invalidated) and the
pool's older connections are recycled, as SQLAlchemy does; reads are asked once more.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
from sqlalchemy import Table
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import greenlet_spawn

_DIALECT = postgresql.dialect()
_LENGTH = re.compile(r"\(\d+\)")


def epoch(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def timestamp(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def json_list(value: str | list[Any] | None) -> list[Any]:
    """A JSON column as the driver returns it: decoded by the codec SQLAlchemy's dialect sets
    on each pooled connection (its encoder takes JSON text), or text without that codec."""
    if value is None:
        return []
    return json.loads(value) if isinstance(value, str) else list(value)


def column_casts(table: Table, names: Sequence[str]) -> list[str]:
    """``$n::TYPE`` for each named column, from the table's own types (a parameter in a SELECT
    list has no column to take its type from). Without a length: a cast to VARCHAR(n) would cut
    a longer value short, where the INSERT refuses it."""
    return [
        f"${n}::{_LENGTH.sub('', table.c[name].type.compile(dialect=_DIALECT))}"
        for n, name in enumerate(names, start=1)
    ]


def _refusal(error: BaseException) -> type[DBAPIError]:
    """SQLAlchemy's class for what the database refused (SQLSTATE classes 22 and 23: a value it
    cannot store, a constraint), as its own execution layer would raise it."""
    sqlstate = str(getattr(error, "sqlstate", "") or "")
    if sqlstate.startswith("22"):
        return DataError
    if sqlstate.startswith("23"):
        return IntegrityError
    return DBAPIError


class HotStatements:
    def __init__(self, engine: AsyncEngine, slots: int) -> None:
        self._engine = engine
        # At most ``slots`` (the pool's size) statements hold a connection at once; the rest
        # wait their turn. Else a busy worker overflows the pool on every burst, and each
        # overflow connection is opened for one statement and closed after it: a TCP, TLS and
        # startup handshake a statement, several times the statement's own cost.
        self._slots = asyncio.Semaphore(slots)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection's driver, outside any transaction (each statement commits)."""
        async with self._slots, self._borrowed() as driver:
            yield driver

    @asynccontextmanager
    async def _borrowed(self) -> AsyncIterator[asyncpg.Connection]:
        pooled = await self._engine.raw_connection()
        try:
            yield pooled.driver_connection
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as error:
            driver = pooled.driver_connection
            lost = not isinstance(error, asyncpg.PostgresError) or driver.is_closed()
            lost = lost or isinstance(error, asyncpg.PostgresConnectionError)
            if lost:
                # What SQLAlchemy does on a disconnect: drop this connection and recycle every
                # one opened before it at its next checkout (they went with it).
                self._engine.sync_engine.pool._invalidate(pooled, error)
            refused = _refusal(error) if not lost else DBAPIError
            raise refused(None, None, error, connection_invalidated=lost) from error
        finally:
            # Checked in inside a greenlet: the pool closes a connection beyond its size then,
            # and the driver's close is awaited through SQLAlchemy's greenlet bridge.
            await greenlet_spawn(pooled.close)

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        rows = await self.fetch(sql, *args)
        return rows[0] if rows else None

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        """A read, asked once more on a fresh connection when the pooled one turns out dropped
        (a database restart or failover): reads can be repeated safely, and a request that has
        already spent a code or a refresh token should not fail for it. Writes are not repeated:
        the first attempt may have committed."""
        try:
            async with self.connection() as connection:
                return await connection.fetch(sql, *args)
        except DBAPIError as error:
            if not error.connection_invalidated:
                raise
        async with self.connection() as connection:
            return await connection.fetch(sql, *args)

    async def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """One statement for many rows, all or none (asyncpg runs them atomically)."""
        async with self.connection() as connection:
            await connection.executemany(sql, rows)

    async def execute(self, sql: str, *args: Any) -> str:
        """The command tag, e.g. ``INSERT 0 1``."""
        async with self.connection() as connection:
            return await connection.execute(sql, *args)
