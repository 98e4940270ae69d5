"""The durable SQL store: one async engine per process (SQLite by default, PostgreSQL in
production), the one place that tells a database that is away from one that refuses a
statement, and the single statements the busiest paths run."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Executable, event, text
from sqlalchemy.engine import Dialect, ExceptionContext, make_url
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    DisconnectionError,
    IntegrityError,
    ProgrammingError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import StaticPool

from store.errors import Unavailable
from store.statements import StatementCache, json_codecs, keep_session, rowcount

# These log every statement with its parameters at DEBUG: personal data must never reach a log,
# whatever level the root logger is set to.
for _chatty in ("aiosqlite", "sqlalchemy.engine", "asyncpg"):
    logging.getLogger(_chatty).setLevel(logging.WARNING)
log = logging.getLogger("yihaotong")


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


RECYCLE_SECONDS = 1800  # younger than typical server and proxy idle limits
CONNECT_SECONDS = 10  # a server that does not answer a connection attempt sooner is away
WAIT_SECONDS = 30  # for a free pooled connection
POOL_CLOSE_SECONDS = 10  # for statements still running at shutdown
# Told each statement's duration in seconds and whether it failed (the gateway's metrics).
StatementObserver = Callable[[float, bool], None]
_STARTED = "yihaotong_statement_started"


def _statement_started(conn: Any, *_: Any) -> None:
    conn.info.setdefault(_STARTED, []).append(time.perf_counter())


# SQLSTATEs of a PostgreSQL that is away rather than refusing the statement, and whether the
# connection it came on must be replaced: connection failures (08), an operator's shutdown
# or a start-up still under way (57P), no room for a connection or a write (53), an I/O
# error (58), a read-only server (25006: a standby, or the old primary after a failover), a
# statement or lock timeout, and the transaction conflicts that ask to be run again (40).
_AWAY_CLASSES = {"08": True, "57P": True, "53": False, "58": False}
_AWAY_STATES = {"25006": True, "57014": False, "55P03": False, "40001": False, "40P01": False}
# SQLite's primary result codes for the same: busy or locked beyond busy_timeout, an I/O
# error, a full disk, a file it cannot open, a read-only file.
_SQLITE_AWAY = {5, 6, 8, 10, 13, 14}


def split_pool(pool_size: int) -> tuple[int, int]:
    """The connections of ``pool_size`` for single statements (asyncpg's pool) and for
    transactions (SQLAlchemy's): a quarter, at least one, goes to transactions."""
    sessions = max(1, pool_size // 4)
    return max(1, pool_size - sessions), sessions


def _refused(error: Exception, sql: str) -> Exception:
    """What PostgreSQL refused, under the SQLAlchemy class its SQLSTATE class maps to."""
    sqlstate = getattr(error, "sqlstate", None) or ""
    kind = {"23": IntegrityError, "22": DataError, "42": ProgrammingError}.get(
        sqlstate[:2], DBAPIError
    )
    return kind(sql, None, error, hide_parameters=True)


def _closed_is_replaced(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """A pooled connection asyncpg already saw closed (the server ended it) is replaced at
    checkout, without a round trip: the pool tries another (SQLAlchemy's documented way)."""
    if dbapi_connection.driver_connection.is_closed():
        raise DisconnectionError("connection closed by the server")


def _terminate(connection: Any) -> None:
    """Close a pooled asyncpg connection now; one the server dropped went back to the pool
    already, and asyncpg says so with an InterfaceError."""
    import asyncpg

    with contextlib.suppress(asyncpg.InterfaceError):
        connection.terminate()


def _postgres_verdict(sqlstate: str) -> bool | None:
    """None: not an outage; else whether the connection must be replaced."""
    if sqlstate in _AWAY_STATES:
        return _AWAY_STATES[sqlstate]
    for prefix, lost in _AWAY_CLASSES.items():
        if sqlstate.startswith(prefix):
            return lost
    return None


class Database:
    def __init__(
        self,
        url: str,
        pool_size: int = 20,
        *,
        recycle_seconds: float = RECYCLE_SECONDS,
        wait_seconds: float = WAIT_SECONDS,
    ) -> None:
        self.url = normalize_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        # No ping before each use: it is a round trip per checkout, and a token request checks
        # out several times. A connection the server dropped fails one statement instead
        # (a read is asked again; otherwise 503, try again) and SQLAlchemy then replaces the
        # whole pool; recycling keeps connections younger than server and proxy idle limits.
        options: dict[str, Any] = {
            "pool_pre_ping": False,
            "pool_recycle": recycle_seconds,
            "hide_parameters": True,  # error messages would otherwise carry personal data
        }
        self._lost_types: tuple[type[BaseException], ...] = (OSError, TimeoutError)
        self._recycle_seconds = recycle_seconds
        self._wait_seconds = wait_seconds
        self._statement_pool_size, sessions_pool_size = split_pool(pool_size)
        self._pool: Any = None  # asyncpg's, opened at the first single statement
        self._pool_opening = asyncio.Lock()
        self._observer: StatementObserver | None = None
        if not self.is_sqlite:
            import asyncpg  # the postgres extra's driver, which the engine loads anyway

            # A burst waits for a pooled connection rather than opening one per statement: a
            # fresh connection costs its start-up and type introspection over again.
            options.update(
                pool_size=sessions_pool_size,
                max_overflow=0,
                pool_timeout=wait_seconds,
                connect_args={"timeout": CONNECT_SECONDS},
            )
            self._lost_types += (asyncpg.InterfaceError, asyncpg.InternalClientError)
        if self.is_sqlite and ":memory:" in self.url:
            options["poolclass"] = StaticPool
        self.engine: AsyncEngine = create_async_engine(self.url, **options)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        if not self.is_sqlite:
            event.listen(self.engine.sync_engine, "checkout", _closed_is_replaced)
        event.listen(self.engine.sync_engine, "do_connect", self._connect)
        event.listen(self.engine.sync_engine, "handle_error", self._on_error)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # Statements that stand alone need no transaction around them: without one, a read is
        # one round trip instead of three (BEGIN, the query, ROLLBACK) and skips the ORM.
        self._autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self._compiled = StatementCache(self.engine.dialect)

    def observe_statements(self, observer: StatementObserver) -> None:
        """Tell ``observer`` of every statement from now on (SQLAlchemy's and the pool's)."""
        self._observer = observer
        sync_engine = self.engine.sync_engine
        event.listen(sync_engine, "before_cursor_execute", _statement_started)
        event.listen(sync_engine, "after_cursor_execute", self._statement_finished)
        event.listen(sync_engine, "handle_error", self._statement_failed)

    def _statement_finished(self, conn: Any, *_: Any) -> None:
        started = conn.info.get(_STARTED)
        if started and self._observer is not None:
            self._observer(time.perf_counter() - started.pop(), False)

    def _statement_failed(self, context: ExceptionContext) -> None:
        conn = context.connection
        started = conn.info.get(_STARTED) if conn is not None else None
        if started and self._observer is not None:
            self._observer(time.perf_counter() - started.pop(), True)

    # -- the database is away: one verdict for every way it can be --------------------------------

    def unavailable(self, error: BaseException) -> Unavailable | None:
        """``error`` as an Unavailable when it says the database is away, else None (a
        statement the database refused, a bug)."""
        if isinstance(error, Unavailable):
            return error
        if isinstance(error, PoolTimeoutError):
            return Unavailable("no database connection became free in time")
        lost = isinstance(error, DBAPIError) and bool(error.connection_invalidated)
        away = lost
        for cause in self._driver_errors(error):
            verdict = self._verdict(cause)
            if verdict is not None:
                away, lost = True, lost or verdict
        if not away:
            return None
        return Unavailable(f"database unavailable: {type(error).__name__}", connection_lost=lost)

    def _driver_errors(self, error: BaseException) -> list[BaseException]:
        """``error`` and, when it wraps the driver's own error, that one too (SQLAlchemy's
        DBAPIError wraps the dialect's adapted error, which wraps asyncpg's)."""
        found = [error]
        wrappers = (DBAPIError, self.engine.dialect.loaded_dbapi.Error)
        while isinstance(found[-1], wrappers) and len(found) < 4:
            inner = getattr(found[-1], "orig", None) or found[-1].__cause__
            if inner is None:
                break
            found.append(inner)
        return found

    def _verdict(self, error: BaseException) -> bool | None:
        if isinstance(error, self._lost_types):
            return True
        sqlstate = getattr(error, "sqlstate", None)
        if isinstance(sqlstate, str) and sqlstate:
            return _postgres_verdict(sqlstate)
        if isinstance(error, sqlite3.Error):
            code = getattr(error, "sqlite_errorcode", None)
            if code is not None and code & 0xFF in _SQLITE_AWAY:
                return False
        return None

    def _connect(
        self, dialect: Dialect, _record: Any, cargs: tuple[Any, ...], cparams: dict[str, Any]
    ) -> Any:
        """Opening a connection: any failure means the database cannot be reached now."""
        try:
            return dialect.connect(*cargs, **cparams)
        except Exception as error:
            raise Unavailable(f"cannot connect to the database: {type(error).__name__}") from error

    def _on_error(self, context: ExceptionContext) -> BaseException | None:
        """Every error of a statement passes here (SQLAlchemy's handle_error event)."""
        error = context.original_exception
        if not isinstance(error, Exception):
            return None  # cancelled: SQLAlchemy drops that one connection itself
        found = self.unavailable(error)
        if found is None and context.is_disconnect:
            found = Unavailable("database connection lost", connection_lost=True)
        if found is not None:
            if found.connection_lost and not context.is_pre_ping:
                context.is_disconnect = True  # replace this connection and the pool's older ones
            return found
        refused = context.sqlalchemy_exception
        sqlstate = getattr(error, "sqlstate", None) or ""
        if type(refused) is DBAPIError and sqlstate.startswith("22"):
            # asyncpg's adapter files a value PostgreSQL cannot store under its generic Error.
            return DataError(context.statement, context.parameters, error, hide_parameters=True)
        return None

    @asynccontextmanager
    async def _translated(self) -> AsyncIterator[None]:
        """What escapes SQLAlchemy's events (a pool that stays busy, a connection lost while it
        was being set up) becomes Unavailable too."""
        try:
            yield
        except Exception as error:
            found = self.unavailable(error)
            if found is None:
                raise
            if found.connection_lost:
                await self._connections_lost(sessions_too=False)  # SQLAlchemy replaced its own
            if found is error:
                raise
            raise found from error

    async def _connections_lost(self, *, sessions_too: bool) -> None:
        """One pool's connection was dropped: the other pool's connections are as old (a
        restart, a failover took them all), so both are replaced."""
        if self._pool is not None:
            await self._pool.expire_connections()
        if sessions_too:
            await self.engine.dispose()

    # -- sessions, transactions and single statements ----------------------------------------------

    @asynccontextmanager
    async def sessions(self) -> AsyncIterator[AsyncSession]:
        """An ORM session (each ``begin()`` inside is a transaction)."""
        async with self._translated(), self._sessions() as session:
            yield session

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session whose work commits at the end of the block, or rolls back on error."""
        async with self._translated(), self._sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def statement(self) -> AsyncIterator[AsyncConnection]:
        """A connection for statements that need no transaction (each commits alone)."""
        async with self._translated(), self._autocommit.connect() as connection:
            yield connection

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        """A connection in a transaction that commits at the end of the block (Core, no ORM)."""
        async with self._translated(), self.engine.begin() as connection:
            yield connection

    async def read(
        self, statement: Executable, parameters: Mapping[str, Any] | None = None
    ) -> Sequence[tuple[Any, ...]]:
        """The rows of one read, as tuples. Asked once more when the pooled connection turns
        out dropped (a restart, a failover): a read can be repeated safely, and a request that
        has already spent a code or a refresh token should not fail for it. Writes are never
        repeated."""
        try:
            return await self._read(statement, parameters)
        except Unavailable as error:
            if not error.connection_lost:
                raise
        return await self._read(statement, parameters)

    async def _read(
        self, statement: Executable, parameters: Mapping[str, Any] | None
    ) -> Sequence[tuple[Any, ...]]:
        if not self.is_sqlite:
            compiled = self._compiled(statement, parameters)
            sql, values = compiled.arguments(parameters)
            return compiled.rows(await self._on_pool(sql, values, "fetch"))
        async with self.statement() as connection:
            return [tuple(row) for row in await connection.execute(statement, parameters)]

    async def read_one(
        self, statement: Executable, parameters: Mapping[str, Any] | None = None
    ) -> tuple[Any, ...] | None:
        rows = await self.read(statement, parameters)
        return rows[0] if rows else None

    async def write(
        self,
        statement: Executable,
        parameters: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
    ) -> int:
        """One statement that commits alone; the number of rows it wrote."""
        if not self.is_sqlite and (parameters is None or isinstance(parameters, Mapping)):
            sql, values = self._compiled(statement, parameters).arguments(parameters)
            return rowcount(await self._on_pool(sql, values, "execute"))
        async with self.statement() as connection:
            result = await connection.execute(statement, parameters)  # type: ignore[arg-type]
            return result.rowcount  # type: ignore[attr-defined,no-any-return]

    # -- PostgreSQL: single statements on asyncpg's pool -------------------------------------------

    async def _statement_pool(self) -> Any:
        if self._pool is None:
            async with self._pool_opening:
                if self._pool is None:
                    import asyncpg

                    url = make_url(self.url).set(drivername="postgresql")
                    # Connections idle longer than the recycle time are closed: younger than
                    # server and proxy idle limits. None is opened before it is needed.
                    self._pool = await asyncpg.create_pool(
                        url.render_as_string(hide_password=False),
                        min_size=0,
                        max_size=self._statement_pool_size,
                        max_inactive_connection_lifetime=self._recycle_seconds,
                        timeout=CONNECT_SECONDS,
                        init=json_codecs,
                        reset=keep_session,
                    )
        return self._pool

    async def _on_pool(self, sql: str, values: list[Any], method: str) -> Any:
        """Run ``sql`` by the asyncpg connection method named; every failure passes the same
        verdict as SQLAlchemy's (``unavailable``), and what is refused keeps its classes."""
        pool = await self._statement_pool()
        try:
            async with asyncio.timeout(self._wait_seconds):  # cheaper than acquire's wait_for
                connection = await pool.acquire()
        except TimeoutError as error:
            raise Unavailable("no database connection became free in time") from error
        except Exception as error:
            raise Unavailable(f"cannot connect to the database: {type(error).__name__}") from error
        started = time.perf_counter()
        try:
            result = await getattr(connection, method)(sql, *values)
        except Exception as error:
            if self._observer is not None:
                self._observer(time.perf_counter() - started, True)
            found = self.unavailable(error)
            if found is None:
                raise _refused(error, sql) from error
            if found.connection_lost:
                _terminate(connection)
                await self._connections_lost(sessions_too=True)
            raise found from error
        except BaseException:
            _terminate(connection)  # cancelled mid-statement: its state is unknown
            raise
        finally:
            await pool.release(connection)
        if self._observer is not None:
            self._observer(time.perf_counter() - started, False)
        return result

    async def ping(self) -> None:
        async with self.statement() as connection:
            await connection.execute(text("SELECT 1"))

    async def close(self) -> None:
        if self._pool is not None:
            try:  # asyncpg waits for every connection to come back, however long that takes
                await asyncio.wait_for(self._pool.close(), POOL_CLOSE_SECONDS)
            except TimeoutError:
                log.warning("database connections still busy at shutdown; closed at once")
                self._pool.terminate()
            self._pool = None
        await self.engine.dispose()
