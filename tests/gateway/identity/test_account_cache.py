"""Accounts kept in memory for the token path, on PostgreSQL: a change made anywhere (another
instance, an operator's SQL) is heard at once, and nothing is trusted while the change feed is
down."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import asyncpg
import pytest
from sqlalchemy import update

from gateway.identity.account_cache import AccountCache
from gateway.server.services import Services, initialize
from store import account_changes
from store.accounts import AccountStore
from store.database import Database, normalize_url
from store.records import Account
from store.tables import AccountRow
from tests.gateway.helpers import second_instance


def _plain(url: str) -> str:
    return normalize_url(url).replace("postgresql+asyncpg://", "postgresql://")


async def _sql(url: str, statement: str, *args: object) -> None:
    """A statement by an operator's own connection, outside the gateway."""
    connection = await asyncpg.connect(_plain(url))
    try:
        await connection.execute(statement, *args)
    finally:
        await connection.close()


async def _eventually(check: Callable[[], object], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not await check():  # type: ignore[misc]
        assert time.monotonic() < deadline, "not seen in time"
        await asyncio.sleep(0.02)


async def _create(instance: Services, username: str) -> Account:
    return await instance.accounts.create_local(
        username=username, password="Cache-pass-2026!", name="甲"
    )


@pytest.fixture
async def settings(settings_for):
    built = settings_for("services")
    await initialize(built)
    return built


async def test_changes_anywhere_reach_the_instance_at_once(settings) -> None:
    url = settings.database_url
    async with second_instance(settings) as instance:
        created = await _create(instance, "cache.user")
        first = await instance.accounts.current(created.id)
        assert first is not None and first.name == "甲"
        assert first.password_hash is None  # never kept, never handed to the token path

        # A write that PostgreSQL does not announce is not seen: the account comes from memory.
        await _sql(url, "ALTER TABLE accounts DISABLE TRIGGER accounts_changed")
        await _sql(url, "UPDATE accounts SET name = '乙' WHERE id = $1", created.id)
        again = await instance.accounts.current(created.id)
        assert again is not None and again.name == "甲"
        await _sql(url, "ALTER TABLE accounts ENABLE TRIGGER accounts_changed")

        # An announced change, by an operator's SQL: heard, and the next read is fresh.
        await _sql(
            url, "UPDATE accounts SET name = '丙', disabled = true WHERE id = $1", created.id
        )

        async def renamed() -> bool:
            found = await instance.accounts.current(created.id)
            return found is not None and found.name == "丙" and found.disabled

        await _eventually(renamed)

        # Deleted: gone from memory too.
        await _sql(url, "DELETE FROM accounts WHERE id = $1", created.id)

        async def deleted() -> bool:
            return await instance.accounts.current(created.id) is None

        await _eventually(deleted)


async def test_nothing_is_trusted_while_the_feed_is_down(settings, monkeypatch) -> None:
    monkeypatch.setattr(account_changes, "RETRY_SECONDS", (0.1,))
    url = settings.database_url
    async with second_instance(settings) as instance:
        created = await _create(instance, "feed.user")
        await instance.accounts.current(created.id)
        # The listening connection is cut (a database restart, a failover) and a change is
        # made before it is back: it must be seen, though no notification carried it.
        await _sql(
            url,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND query LIKE 'LISTEN%'",
        )
        await _sql(url, "ALTER TABLE accounts DISABLE TRIGGER accounts_changed")
        await _sql(url, "UPDATE accounts SET name = '乙' WHERE id = $1", created.id)

        async def fresh() -> bool:
            found = await instance.accounts.current(created.id)
            return found is not None and found.name == "乙"

        await _eventually(fresh)
        await _sql(url, "ALTER TABLE accounts ENABLE TRIGGER accounts_changed")

        # It listens again by itself, and then changes are heard as before.
        async def listening() -> bool:
            await instance.accounts.current(created.id)
            rows = await _count_listeners(url)
            return rows == 1

        await _eventually(listening)
        await instance.accounts.current(created.id)
        await _sql(url, "UPDATE accounts SET name = '丁' WHERE id = $1", created.id)

        async def heard() -> bool:
            found = await instance.accounts.current(created.id)
            return found is not None and found.name == "丁"

        await _eventually(heard)


async def _count_listeners(url: str) -> int:
    connection = await asyncpg.connect(_plain(url))
    try:
        return await connection.fetchval(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND query LIKE 'LISTEN%'"
        )
    finally:
        await connection.close()


async def test_a_read_that_spans_a_change_is_not_kept(settings) -> None:
    """The row read before an UPDATE commits may arrive after its notification: keeping it
    would keep the old account until the entry expires."""
    url = settings.database_url
    database = Database(url)
    store = AccountStore(database)
    loads = 0
    change_heard = asyncio.Event()

    async def load_across_a_change(account_id: str):
        nonlocal loads
        loads += 1
        found = await store.get(account_id)
        if loads == 1:
            await _sql(url, "UPDATE accounts SET name = '乙' WHERE id = $1", account_id)
            await asyncio.wait_for(change_heard.wait(), 5)  # the notification was handled
        return found

    class ObservedCache(AccountCache):
        def changed(self, account_id: str) -> None:
            super().changed(account_id)
            change_heard.set()

    cache = ObservedCache(load_across_a_change, database.engine, ttl=60)
    try:
        async with second_instance(settings) as instance:
            created = await _create(instance, "race.user")
        await cache.start()
        stale = await cache.get(created.id)
        assert stale is not None and stale.name == "甲"  # the read from before the change
        fresh = await cache.get(created.id)
        assert fresh is not None and fresh.name == "乙"
        assert loads == 2  # the first read was not kept
        await cache.get(created.id)
        assert loads == 2  # the second one was
    finally:
        await cache.close()
        await database.close()


async def test_sqlite_has_no_account_cache(settings_for) -> None:
    """Without a change feed nothing is kept: a change is seen at the next read."""
    settings = settings_for("embedded")
    await initialize(settings)
    async with second_instance(settings) as instance:
        created = await _create(instance, "lite.user")
        await instance.accounts.current(created.id)
        async with instance.database.transaction() as session:
            await session.execute(
                update(AccountRow).where(AccountRow.id == created.id).values(name="乙")
            )
        found = await instance.accounts.current(created.id)
        assert found is not None and found.name == "乙" and found.password_hash is None
