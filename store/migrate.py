"""Apply Alembic migrations from code: ``init`` and ``serve`` call ``upgrade`` before anything
reads the schema."""

from __future__ import annotations

import asyncio
import fcntl
import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import text

from store.database import Database

MIGRATIONS = Path(__file__).parent / "migrations"
# Any constant works; it only has to be the same for every instance of this gateway.
_PG_MIGRATION_LOCK = 0x59_48_54_01


def alembic_config(connection: Any | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


@functools.cache
def head_revision() -> str | None:
    """Read once a process: the migrations ship with the package."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _current(sync_connection: Any) -> str | None:
    return MigrationContext.configure(sync_connection).get_current_revision()


def _upgrade(sync_connection: Any, revision: str = "head") -> None:
    command.upgrade(alembic_config(sync_connection), revision)


def known_revision(revision: str) -> bool:
    """Whether ``revision`` is one of the migrations this version ships."""
    try:
        return ScriptDirectory.from_config(alembic_config()).get_revision(revision) is not None
    except CommandError:
        return False


async def upgrade_to(database: Database, revision: str) -> None:
    """Bring a database without schema to ``revision`` (a restore's, before its rows)."""
    async with database.engine.begin() as connection:
        await connection.run_sync(_upgrade, revision)


async def current_revision(database: Database) -> str | None:
    async with database.engine.connect() as connection:
        return await connection.run_sync(_current)


@asynccontextmanager
async def _sqlite_file_lock(database: Database) -> AsyncIterator[None]:
    """SQLite has no advisory locks: processes sharing the file take a lock file beside it."""
    path = database.engine.url.database
    if not path or path == ":memory:":
        yield
        return
    handle = await asyncio.to_thread(open, f"{path}.migrate-lock", "a")
    try:
        await asyncio.to_thread(fcntl.flock, handle, fcntl.LOCK_EX)
        yield
    finally:
        handle.close()  # closing releases the lock


async def upgrade(database: Database) -> None:
    """Bring the schema to the newest revision. Instances that start together migrate one after
    the other (an advisory lock on PostgreSQL, a lock file beside a SQLite database)."""
    if database.is_sqlite:
        async with _sqlite_file_lock(database):
            await _upgrade_locked(database)
    else:
        await _upgrade_locked(database)


async def _upgrade_locked(database: Database) -> None:
    async with database.engine.begin() as connection:
        if not database.is_sqlite:
            await connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK}
            )
        if await connection.run_sync(_current) != head_revision():
            await connection.run_sync(_upgrade)
