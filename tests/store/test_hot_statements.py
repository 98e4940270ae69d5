"""The busiest PostgreSQL statements on the driver directly (store/hot.py): connections borrowed
from SQLAlchemy's pool come back to it, also beyond the pool's size."""

from __future__ import annotations

import asyncio
import logging

import pytest
from sqlalchemy.exc import DBAPIError

from store.accounts import AccountStore
from store.database import Database
from store.migrate import upgrade

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


async def test_connections_beyond_the_pool_are_closed_cleanly(postgres_url: str, caplog) -> None:
    # A pool of one, held by a session: a statement then borrows the connection beyond it, and
    # when the session's connection is back first, returning that one closes it (inside a
    # greenlet, as the driver's close needs) without an error.
    database = Database(postgres_url, pool_size=1)
    caplog.set_level(logging.ERROR)
    try:
        assert database.hot is not None
        session_connection = await database.engine.connect()
        await session_connection.exec_driver_sql("SELECT 1")
        statement = asyncio.create_task(
            database.hot.fetch("SELECT pg_backend_pid(), pg_sleep(0.2)")
        )
        await asyncio.sleep(0.05)
        await session_connection.close()
        beyond = (await statement)[0][0]
        rows = await asyncio.gather(*(database.hot.fetch(PID_AFTER_A_WHILE) for _ in range(4)))
        assert {row[0] for row in rows} != {beyond}, "the connection beyond the pool was closed"
    finally:
        await database.close()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


async def test_a_statement_error_is_a_database_error_not_a_lost_connection(
    postgres_url: str,
) -> None:
    database = Database(postgres_url)
    try:
        assert database.hot is not None
        with pytest.raises(DBAPIError) as raised:
            await database.hot.fetch("SELECT no_such_column FROM pg_class")
        assert not raised.value.connection_invalidated
        assert await database.hot.fetch("SELECT 1") == [(1,)]  # the connection is still good
    finally:
        await database.close()
