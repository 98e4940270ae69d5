"""The durable SQL store: one async engine per process (SQLite by default, PostgreSQL in
production) and the migrations that shape it."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import StaticPool

if TYPE_CHECKING:
    from store.hot import HotStatements

# These log every statement with its parameters at DEBUG: personal data must never reach a log,
# whatever level the root logger is set to.
for _chatty in ("aiosqlite", "sqlalchemy.engine", "asyncpg"):
    logging.getLogger(_chatty).setLevel(logging.WARNING)


def normalize_url(url: str) -> str:
    """Accept the URLs people write and pick the async driver we ship."""
    for plain, driver in (
        ("postgres://", "postgresql+asyncpg://"),
        ("postgresql://", "postgresql+asyncpg://"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the writer; busy_timeout makes writers queue instead of failing.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


DatabaseDriverError = DBAPIError  # what a failing driver call raises, for handlers outside store/
DatabaseBusy = PoolTimeoutError  # no connection became free in time


def connection_lost(error: BaseException) -> bool:
    """Whether ``error`` is the database dropping a pooled connection (the pool is replaced by
    then, so the operation may be asked for again)."""
    return isinstance(error, DBAPIError) and bool(error.connection_invalidated)


RECYCLE_SECONDS = 1800  # younger than typical server and proxy idle limits


class Database:
    def __init__(self, url: str, pool_size: int = 20) -> None:
        self.url = normalize_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        # No ping before each use (a round trip per checkout): a dropped connection fails one
        # request with a 503 and SQLAlchemy replaces the pool; recycling keeps connections
        # younger than typical server and proxy idle limits.
        options: dict[str, Any] = {"pool_pre_ping": False, "pool_recycle": RECYCLE_SECONDS}
        if not self.is_sqlite:
            # The token path's statements keep ``pool_size`` connections of their own
            # (store/hot.py); the rest (sign-in, administration) is lighter and gets half as
            # many, and as many again for a burst (opened and closed per use beyond the pool).
            share = max(2, pool_size // 2)
            options.update(pool_size=share, max_overflow=share)
        if self.is_sqlite and ":memory:" in self.url:
            options["poolclass"] = StaticPool
        self.engine: AsyncEngine = create_async_engine(self.url, **options)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # Statements that stand alone need no transaction around them: without one, a read is
        # one round trip instead of three (BEGIN, the query, ROLLBACK) and skips the ORM.
        self._autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        # The busiest statements skip SQLAlchemy's execution layer on PostgreSQL (store/hot.py).
        self.hot: HotStatements | None = None
        if not self.is_sqlite:
            from store.hot import HotStatements  # needs the postgres extra's driver

            self.hot = HotStatements(self.engine, pool_size, RECYCLE_SECONDS)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session whose work commits at the end of the block, or rolls back on error."""
        async with self.sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def statement(self) -> AsyncIterator[AsyncConnection]:
        """A connection for one statement that needs no transaction (a read by key, a single
        INSERT): for the busiest paths."""
        async with self._autocommit.connect() as connection:
            yield connection

    async def ping(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def close(self) -> None:
        if self.hot is not None:
            await self.hot.close()
        await self.engine.dispose()
