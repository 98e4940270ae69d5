"""The busiest statements on PostgreSQL, run on the driver (asyncpg) directly.

A statement through SQLAlchemy's execution layer costs several times its CPU on asyncpg with
the same pooled connection (bench/README.md), and a token request runs several. So the
few statements on the token, UserInfo and refresh paths are written once in PostgreSQL's SQL
and run here; everything else, and every statement on SQLite, keeps going through SQLAlchemy.
Connections are opened by SQLAlchemy's engine and kept here (see HotStatements), with one
outage behaviour: a connection the server dropped raises the same ``DBAPIError`` (marked
invalidated), and the older connections, here and in SQLAlchemy's pool, are replaced before
their next use, as SQLAlchemy does; reads are asked once more.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.util import greenlet_spawn


def _refusal(error: BaseException) -> type[DBAPIError]:
    """SQLAlchemy's class for what the database refused (SQLSTATE classes 22 and 23: a value it
    cannot store, a constraint), as its own execution layer would raise it."""
    sqlstate = str(getattr(error, "sqlstate", "") or "")
    if sqlstate.startswith("22"):
        return DataError
    if sqlstate.startswith("23"):
        return IntegrityError
    return DBAPIError


_DRIVER_ERRORS = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    OSError,
)


async def detached_connection(
    engine: AsyncEngine,
) -> tuple[PoolProxiedConnection, asyncpg.Connection]:
    """A driver connection opened by SQLAlchemy's engine (same URL, driver options and JSON
    codec), then detached from its pool: the caller's until it closes it."""
    pooled = await engine.raw_connection()
    driver = pooled.driver_connection
    await greenlet_spawn(pooled.detach)
    return pooled, driver


async def close_driver(driver: asyncpg.Connection) -> None:
    """Close politely, or drop the connection when the server does not answer."""
    try:
        await driver.close(timeout=2)
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError):
        driver.terminate()


@dataclass
class _Held:
    """A driver connection the hot statements keep for themselves, and when it was opened."""

    pooled: PoolProxiedConnection  # detached from SQLAlchemy's pool: ours until closed
    driver: asyncpg.Connection
    opened: float  # time.monotonic()


class HotStatements:
    """The hot statements' own connections: up to ``slots`` of them, each opened by SQLAlchemy
    (same URL, driver options and JSON codec) and then detached from its pool. Borrowing one
    is a list pop instead of SQLAlchemy's costlier checkout and checkin, and a token request
    runs up to four. Statements beyond ``slots`` wait for a connection instead of opening one
    each: a connection opened for one statement costs the startup, statement preparation and
    type introspection over again."""

    def __init__(
        self, engine: AsyncEngine, slots: int, recycle_seconds: float, wait_seconds: float = 30
    ) -> None:
        self._engine = engine
        self._slots = asyncio.Semaphore(slots)
        self._wait = wait_seconds  # as long as SQLAlchemy's pool waits for a connection
        self._idle: list[_Held] = []  # the most recently used last: few stay warm
        self._recycle = recycle_seconds
        self._stale_before = 0.0  # connections opened before a lost one went with it

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A driver connection outside any transaction (each statement commits). Raises
        SQLAlchemy's pool TimeoutError when none becomes free within the wait (a stalled
        database), as its pool would."""
        if not self._slots.locked():
            await self._slots.acquire()  # free: taken at once, without a timer
        else:
            try:
                async with asyncio.timeout(self._wait):
                    await self._slots.acquire()
            except TimeoutError as error:
                raise PoolTimeoutError(
                    f"no PostgreSQL connection became free within {self._wait} s"
                ) from error
        try:
            held = await self._take()
            try:
                yield held.driver
            except _DRIVER_ERRORS as error:
                # InternalClientError: the driver lost track of the protocol, e.g. when the
                # server ended the session between two statements; the connection is useless.
                lost = not isinstance(error, asyncpg.PostgresError) or held.driver.is_closed()
                lost = lost or isinstance(error, asyncpg.PostgresConnectionError)
                if lost:
                    self._lost(held, error)
                else:
                    self._idle.append(held)  # a refused statement leaves it usable
                refused = _refusal(error) if not lost else DBAPIError
                raise refused(None, None, error, connection_invalidated=lost) from error
            except BaseException:
                # Cancelled (or worse) in the middle of a statement: the connection's state is
                # unknown, so it is not used again.
                held.driver.terminate()
                raise
            if not held.driver.is_closed():
                self._idle.append(held)
        finally:
            self._slots.release()

    async def _take(self) -> _Held:
        now = time.monotonic()
        while self._idle:
            held = self._idle.pop()
            if held.opened > self._stale_before and now - held.opened < self._recycle:
                return held
            await self._close(held)
        pooled, driver = await detached_connection(self._engine)
        return _Held(pooled, driver, time.monotonic())

    def _lost(self, held: _Held, error: BaseException) -> None:
        """What SQLAlchemy does on a disconnect: this connection is dropped, and every one
        opened before it (ours and the pool's) is replaced before its next use."""
        held.driver.terminate()
        self._stale_before = time.monotonic()
        self._engine.sync_engine.pool._invalidate(held.pooled, error, _checkin=False)

    @staticmethod
    async def _close(held: _Held) -> None:
        await close_driver(held.driver)

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for held in idle:
            await self._close(held)

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        rows = await self.fetch(sql, *args)
        return rows[0] if rows else None

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        """A read, asked once more on a fresh connection when the pooled one was dropped (a
        restart or failover), so a request that already spent a code does not fail for it.
        Writes are not repeated: the first attempt may have committed."""
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
            if len(rows) == 1:  # a sign-in's audit row, say: a plain statement costs less
                await connection.execute(sql, *rows[0])
            else:
                await connection.executemany(sql, rows)

    async def execute(self, sql: str, *args: Any) -> str:
        """The command tag, e.g. ``INSERT 0 1``."""
        async with self.connection() as connection:
            return await connection.execute(sql, *args)
