"""The rows of a backup, on SQLite and PostgreSQL: one moment of the database however long the
reading takes, and loaded back only into empty tables, all or nothing."""

from __future__ import annotations

import pytest

from store.accounts import AccountStore
from store.database import Database
from store.snapshot import NotEmpty, SnapshotError, dump, load, snapshot
from tests.store.test_durable_conformance import an_account


async def test_a_snapshot_sees_one_moment_while_writers_go_on(database: Database) -> None:
    accounts = AccountStore(database)
    await accounts.create(an_account("before"))
    seen: list[str] = []
    table = ""
    async with snapshot(database) as connection:
        async for record in dump(connection):
            if isinstance(record, dict):
                table = record["table"]
                if table == "account_identifiers":  # read after the first table
                    await accounts.create(an_account("during"))
            elif table == "accounts":
                seen.append(record[1])
    assert seen == ["before"]
    assert await accounts.by_username("during") is not None


async def test_load_takes_only_empty_tables_and_writes_nothing_when_refused(
    database: Database,
) -> None:
    account = an_account("zhao")
    records = [
        {
            "table": "accounts",
            "columns": ["id", "username", "disabled", "created_at", "updated_at"],
        },
        [account.id, "zhao", False, 1_800_000_000.0, 1_800_000_000.0],
    ]
    unknown = [{"table": "secrets", "columns": ["x"]}, ["y"]]
    with pytest.raises(SnapshotError, match="does not know"):
        async with database.transaction() as session:
            await load(session, [*records, *unknown])
    assert await AccountStore(database).by_username("zhao") is None, "all or nothing"

    async with database.transaction() as session:
        written, after = await load(session, [*records, {"end": True}])
    assert (written, after) == (1, {"end": True})
    assert await AccountStore(database).by_username("zhao") is not None
    with pytest.raises(NotEmpty, match="1 accounts"):
        async with database.transaction() as session:
            await load(session, records)
