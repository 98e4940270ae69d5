"""The busiest PostgreSQL statements on the driver directly (store/hot.py): their own
connections, reused, queued for, replaced after a loss or when old, and closed at the end."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.exc import DBAPIError

from store.accounts import AccountStore
from store.database import Database
from store.migrate import upgrade
from tests.conftest import admin_sql

PID_AFTER_A_WHILE = "SELECT pg_backend_pid() FROM pg_sleep(0.01)"


async def test_a_burst_of_statements_queues_for_the_pools_connections(postgres_url: str) -> None:
    # Opening a connection per statement beyond the pool would cost a handshake each: a burst
    # waits for the pool's own connections instead (every new connection has a new backend).
    database = Database(postgres_url, pool_size=2)
    try:
        assert database.hot is not None
        rows = await asyncio.gather(*(database.hot.fetch(PID_AFTER_A_WHILE) for _ in range(40)))
        assert len({row[0][0] for row in rows}) <= 2
        accounts = AccountStore(database)
        await upgrade(database)
        found = await asyncio.gather(*(accounts.get(f"absent-{n}") for n in range(40)))
        assert found == [None] * 40
    finally:
        await database.close()


PID = "SELECT pg_backend_pid()"


async def backends_of(database: Database, pid: int) -> int:
    rows = await database.hot.fetch("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid)
    return rows[0][0]


async def test_statements_keep_their_connections_apart_from_the_pool(postgres_url: str) -> None:
    # Borrowed without SQLAlchemy's checkout: one after another, statements run on the same
    # connection, and the pool has none of them checked out.
    database = Database(postgres_url, pool_size=2)
    try:
        assert database.hot is not None
        pids = {(await database.hot.fetch(PID))[0][0] for _ in range(10)}
        assert len(pids) == 1
        assert database.engine.sync_engine.pool.checkedout() == 0
        async with database.statement() as connection:  # the pool still serves the rest
            assert (await connection.exec_driver_sql("SELECT 1")).scalar() == 1
    finally:
        await database.close()


async def test_a_lost_connection_replaces_every_older_one(postgres_url: str) -> None:
    database = Database(postgres_url, pool_size=2)
    try:
        assert database.hot is not None
        rows = await asyncio.gather(*(database.hot.fetch(PID_AFTER_A_WHILE) for _ in range(2)))
        before = {row[0][0] for row in rows}
        assert len(before) == 2
        for pid in before:  # what a database restart does
            admin_sql(f"SELECT pg_terminate_backend({int(pid)})")
        # A read is asked again on a fresh connection; the other dropped one is not tried.
        after = {(await database.hot.fetch(PID))[0][0] for _ in range(4)}
        assert not after & before
        with pytest.raises(DBAPIError) as raised:  # a write is not repeated
            await database.hot.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        assert raised.value.connection_invalidated
        assert (await database.hot.fetch("SELECT 1")) == [(1,)]
    finally:
        await database.close()


async def test_a_cancelled_statement_leaves_its_connection_unused(postgres_url: str) -> None:
    database = Database(postgres_url, pool_size=1)
    try:
        assert database.hot is not None
        first = (await database.hot.fetch(PID))[0][0]
        slow = asyncio.create_task(database.hot.fetch("SELECT pg_sleep(5)"))
        await asyncio.sleep(0.2)
        slow.cancel()
        with pytest.raises(asyncio.CancelledError):
            await slow
        assert (await database.hot.fetch(PID))[0][0] != first
    finally:
        await database.close()


async def test_old_connections_are_recycled_and_closing_closes_them(postgres_url: str) -> None:
    database = Database(postgres_url, pool_size=1)
    try:
        assert database.hot is not None
        database.hot._recycle = 0.05
        first = (await database.hot.fetch(PID))[0][0]
        await asyncio.sleep(0.1)
        second = (await database.hot.fetch(PID))[0][0]
        assert second != first
        assert await backends_of(database, first) == 0  # closed, not just left behind
    finally:
        await database.close()
    database = Database(postgres_url, pool_size=1)
    try:
        assert await backends_of(database, second) == 0, "closing the database closed it"
    finally:
        await database.close()


async def test_waiting_too_long_for_a_connection_is_a_pool_timeout(postgres_url: str) -> None:
    from sqlalchemy.exc import TimeoutError as PoolTimeoutError

    from store.database import RECYCLE_SECONDS
    from store.hot import HotStatements

    database = Database(postgres_url, pool_size=1)
    hot = HotStatements(database.engine, 1, RECYCLE_SECONDS, wait_seconds=0.2)
    try:
        slow = asyncio.create_task(hot.fetch("SELECT pg_sleep(1)"))
        await asyncio.sleep(0.05)
        with pytest.raises(PoolTimeoutError):
            await hot.fetch("SELECT 1")
        await slow
        assert await hot.fetch("SELECT 1") == [(1,)]  # the slot came back
    finally:
        await hot.close()
        await database.close()
