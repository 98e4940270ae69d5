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


async def test_connections_beyond_the_pool_are_closed_cleanly(postgres_url: str, caplog) -> None:
    # A pool of one (and one more beyond it): many statements at once must queue, use the extra
    # connection, and close it on return without an error.
    database = Database(postgres_url, pool_size=1)
    await upgrade(database)
    caplog.set_level(logging.ERROR)
    try:
        assert database.hot is not None
        accounts = AccountStore(database)
        found = await asyncio.gather(*(accounts.get(f"absent-{n}") for n in range(40)))
        assert found == [None] * 40
        pid = "SELECT pg_backend_pid()"
        rows = await asyncio.gather(*(database.hot.fetch(pid) for _ in range(8)))
        backends = {row[0][0] for row in rows}
        assert 1 <= len(backends) <= 2  # never more connections than the pool and its overflow
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
