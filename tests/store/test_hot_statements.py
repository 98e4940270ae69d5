"""The statements that stand alone (store/database.py): pooled connections reused and queued
for, replaced after a loss or when old, closed at the end; and every way PostgreSQL can be
away is one error, Unavailable, while what it refuses keeps SQLAlchemy's classes."""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import replace

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DataError, IntegrityError

from store.accounts import AccountStore
from store.database import Database
from store.errors import Unavailable
from store.migrate import upgrade
from store.organisation import account_facts, create_department
from store.records import Account, RefreshToken
from store.refresh_tokens import RefreshTokenStore
from tests.conftest import admin_sql
from tests.support import free_port

PID_AFTER_A_WHILE = text("SELECT pg_backend_pid() FROM pg_sleep(0.01)")
PID = text("SELECT pg_backend_pid()")


async def running(url: str, statement: str, seconds: float = 30) -> None:
    """Until PostgreSQL is running ``statement`` (sent by the database under test)."""
    watcher = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        deadline = time.monotonic() + seconds
        query = "SELECT count(*) FROM pg_stat_activity WHERE query = $1 AND state = 'active'"
        while not await watcher.fetchval(query, statement):
            assert time.monotonic() < deadline, f"{statement} never ran"
            await asyncio.sleep(0.01)
    finally:
        await watcher.close()


async def pid_of(database: Database) -> int:
    return (await database.read(PID))[0][0]


def database_name(url: str) -> str:
    name = make_url(url).database
    assert name is not None and name.startswith("yht_test_")  # made by the fixture: safe to quote
    return name


async def test_a_burst_of_statements_queues_for_the_pools_connections(postgres_url: str) -> None:
    # Opening a connection per statement beyond the pool would cost a handshake each: a burst
    # waits for the pool's own connections instead (every new connection has a new backend).
    database = Database(postgres_url, pool_size=2)
    try:
        rows = await asyncio.gather(*(database.read(PID_AFTER_A_WHILE) for _ in range(40)))
        assert len({row[0][0] for row in rows}) <= 2
        accounts = AccountStore(database)
        await upgrade(database)
        found = await asyncio.gather(*(accounts.get(f"absent-{n}") for n in range(40)))
        assert found == [None] * 40
    finally:
        await database.close()


async def backends_of(database: Database, pid: int) -> int:
    query = text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid")
    return (await database.read(query, {"pid": pid}))[0][0]


async def test_statements_reuse_a_pooled_connection(postgres_url: str) -> None:
    database = Database(postgres_url, pool_size=2)
    try:
        pids = {await pid_of(database) for _ in range(10)}
        assert len(pids) == 1
        assert database.engine.sync_engine.pool.checkedout() == 0
    finally:
        await database.close()


async def test_a_lost_connection_replaces_every_older_one(postgres_url: str) -> None:
    database = Database(postgres_url, pool_size=4)  # three of them for single statements
    try:
        rows = await asyncio.gather(*(database.read(PID_AFTER_A_WHILE) for _ in range(2)))
        before = {row[0][0] for row in rows}
        assert len(before) == 2
        for pid in before:  # what a database restart does
            admin_sql(f"SELECT pg_terminate_backend({int(pid)})")
        # A read is asked again on a fresh connection; the other dropped one is not tried.
        after = {await pid_of(database) for _ in range(4)}
        assert not after & before
        with pytest.raises(Unavailable) as raised:  # a write is not repeated
            await database.write(text("SELECT pg_terminate_backend(pg_backend_pid())"))
        assert raised.value.connection_lost
        assert (await database.read(text("SELECT 1"))) == [(1,)]
    finally:
        await database.close()


async def test_a_cancelled_statement_leaves_its_connection_unused(postgres_url: str) -> None:
    database = Database(postgres_url, pool_size=1)
    try:
        first = await pid_of(database)
        slow = asyncio.create_task(database.read(text("SELECT pg_sleep(5)")))
        await running(postgres_url, "SELECT pg_sleep(5)")
        slow.cancel()
        with pytest.raises(asyncio.CancelledError):
            await slow
        assert await pid_of(database) != first
    finally:
        await database.close()


async def test_old_connections_are_recycled_and_closing_closes_them(postgres_url: str) -> None:
    database = Database(postgres_url, pool_size=1, recycle_seconds=0.05)
    try:
        first = await pid_of(database)
        await asyncio.sleep(0.1)
        second = await pid_of(database)
        assert second != first
        assert await backends_of(database, first) == 0  # closed, not just left behind
    finally:
        await database.close()
    database = Database(postgres_url, pool_size=1)
    try:
        assert await backends_of(database, second) == 0, "closing the database closed it"
    finally:
        await database.close()


async def test_waiting_too_long_for_a_connection_is_unavailable(postgres_url: str) -> None:
    database = Database(postgres_url, pool_size=1, wait_seconds=0.2)
    try:
        # Long past the wait: the slot stays taken while the second read gives up.
        slow = asyncio.create_task(database.read(text("SELECT pg_sleep(2)")))
        await running(postgres_url, "SELECT pg_sleep(2)")
        with pytest.raises(Unavailable):
            await database.read(text("SELECT 1"))
        await slow
        assert await database.read(text("SELECT 1")) == [(1,)]  # the slot came back
    finally:
        await database.close()


# -- every way of being away is Unavailable; what the database refuses is not ---------------------


async def test_a_server_that_refuses_connections_is_unavailable() -> None:
    database = Database(f"postgresql://postgres@127.0.0.1:{free_port()}/postgres")
    try:
        for use in (database.read(PID), database.write(PID), database.ping()):
            with pytest.raises(Unavailable):
                await use
        with pytest.raises(Unavailable):
            async with database.transaction() as session:
                await session.execute(PID)
    finally:
        await database.close()


async def test_too_many_connections_is_unavailable(postgres_url: str) -> None:
    role = f"yht_full_{secrets.token_hex(4)}"
    admin_sql(f"CREATE ROLE {role} LOGIN CONNECTION LIMIT 0")
    database = Database(make_url(postgres_url).set(username=role).render_as_string(False))
    try:
        with pytest.raises(Unavailable):
            await database.read(PID)
    finally:
        await database.close()
        admin_sql(f"DROP ROLE {role}")


async def test_a_read_only_server_and_a_statement_timeout_are_unavailable(
    postgres_url: str,
) -> None:
    name = database_name(postgres_url)
    database = Database(postgres_url)
    try:
        await upgrade(database)
        await database.close()
        admin_sql(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
        admin_sql(f'ALTER DATABASE "{name}" SET statement_timeout = 100')
        database = Database(postgres_url)
        with pytest.raises(Unavailable):  # a standby, or the old primary after a failover
            await AccountStore(database).create(Account(id="a1", username="ro"))
        with pytest.raises(Unavailable):
            await database.read(text("SELECT pg_sleep(2)"))
    finally:
        await database.close()


async def test_what_the_database_refuses_is_not_an_outage(database: Database) -> None:
    accounts = AccountStore(database)
    await accounts.create(Account(id="a1", username="first"))
    statement = text(
        "INSERT INTO accounts (id, username, created_at, updated_at, disabled, kind,"
        " assurance) VALUES (:id, :username, now(), now(), false, 'p', 'L1')"
    )
    if database.is_sqlite:
        statement = text(str(statement).replace("now()", "CURRENT_TIMESTAMP"))
    with pytest.raises(IntegrityError):
        await database.write(statement, {"id": "a1", "username": "second"})
    if not database.is_sqlite:  # SQLite stores a longer string as it is
        with pytest.raises(DataError):
            await database.write(statement, {"id": "a2", "username": "x" * 100})


# -- the same statements, the same rows, on both databases ----------------------------------------


async def test_the_hot_statements_give_the_same_rows_on_both_databases(database: Database) -> None:
    # Run on SQLite and PostgreSQL: rows are plain tuples, timestamps floats, JSON Python values,
    # and an expanding IN list works empty and full (PostgreSQL runs them on asyncpg's pool).
    async with database.transaction() as session:
        await create_department(session, "city", "City", None, 1.0)
    accounts = AccountStore(database)
    account = Account(id="a1", username="u1", department_id="city", created_at=1.5, updated_at=2.25)
    await accounts.create(account)
    assert await accounts.get("a1") == account
    assert await accounts.by_username("absent") is None
    assert await database.read(text("SELECT 1")) == [(1,)]
    assert type((await database.read(text("SELECT 1")))[0]) is tuple
    for wanted, paths in (([], {}), (["city", "absent"], {"city": "/city"})):
        facts = await account_facts(database, "a1", "app", wanted, 3.0)
        assert facts.paths == paths and facts.roles == [] and facts.app_department is None
    tokens = RefreshTokenStore(database)
    token = RefreshToken(
        digest="d1", family_id="f", client_id="app", account_id="a1", scope="openid",
        offline=False, auth_time=1.25, created_at=1.5, expires_at=9e9, amr=("pwd", "otp"),
    )  # fmt: skip
    await tokens.add(token)
    assert await tokens.get("d1") == token
    successor = replace(token, digest="d2", created_at=2.5)
    assert await tokens.rotate("d1", successor, 2.0)
    assert not await tokens.rotate("d1", replace(token, digest="d3"), 2.0)
    assert await tokens.get("d1") == replace(token, used_at=2.0)
    assert await tokens.get("d2") == successor and await tokens.get("d3") is None
    assert await database.write(text("UPDATE accounts SET name = 'n'")) == 1
