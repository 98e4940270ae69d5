"""Batched audit entries: an entry the database refuses does not hold back the others."""

from __future__ import annotations

import asyncio
import logging

import asyncpg
from sqlalchemy.engine import make_url

from gateway.identity.audit import AuditLog
from store.clock import SystemClock
from store.database import Database
from store.migrate import upgrade
from store.records import AuditEvent


async def test_an_entry_the_database_refuses_is_kept_alone(
    postgres_url: str, caplog, tmp_path
) -> None:
    database = Database(postgres_url)
    await upgrade(database)
    audit = AuditLog(database, SystemClock(), tmp_path)
    try:
        # PostgreSQL refuses an event name longer than its column (64); SQLite would take it.
        for name in ("token.issued", "x" * 100, "token.revoked"):
            audit.queue(AuditEvent(name, actor="someone", details={"jti": "j"}))
        with caplog.at_level(logging.ERROR, logger="yihaotong.audit"):
            await audit.flush()
        written = await audit.query()
        assert sorted(event.event for event in written) == ["token.issued", "token.revoked"]
        refused = [r for r in caplog.records if "refused" in r.getMessage()]
        assert len(refused) == 1 and refused[0].fields["event"] == "x" * 64
        # Not lost: it waits in the local spool, alone, for a database that takes it.
        assert audit.backlog()["entries"] == 1
        kept = b"".join(path.read_bytes() for path in tmp_path.glob("seg-*.jsonl"))
        assert kept.count(b"\n") == 1 and b"x" * 100 in kept
        audit.queue(AuditEvent("token.issued", actor="later"))
        await audit.flush()  # the next batch is not held back
        assert len(await audit.query()) == 3
    finally:
        await audit.close()
        await database.close()


async def _backends_waiting_to_insert(connection: asyncpg.Connection) -> list[int]:
    # Waiting may begin while the INSERT is being prepared, when pg_stat_activity still shows
    # the transaction's BEGIN: any other backend of this database that waits for a lock.
    rows = await connection.fetch(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
    )
    return [row["pid"] for row in rows]


async def test_closing_lets_the_batch_in_flight_finish(postgres_url: str, tmp_path) -> None:
    """Closed while a batch's INSERT waits in the database, the log waits for it rather than
    cancelling it (which would drop its connection and could write a committed batch twice)."""
    database = Database(postgres_url)
    await upgrade(database)
    audit = AuditLog(database, SystemClock(), tmp_path)
    blocker = await asyncpg.connect(
        make_url(postgres_url).set(drivername="postgresql").render_as_string(hide_password=False)
    )
    try:
        locked = blocker.transaction()
        await locked.start()
        await blocker.execute("LOCK TABLE audit_events IN ACCESS EXCLUSIVE MODE")
        for n in range(250):  # more than a batch: the flusher starts writing at once
            audit.queue(AuditEvent("token.issued", actor=f"client-{n}"))
        waiting: list[int] = []
        for _ in range(200):
            waiting = await _backends_waiting_to_insert(blocker)
            if waiting:
                break
            await asyncio.sleep(0.02)
        assert len(waiting) == 1, "the batch's INSERT should be waiting for the lock"
        closing = asyncio.create_task(audit.close())
        await asyncio.sleep(0.3)
        assert not closing.done()  # waiting for the database, not cancelling the write
        await locked.commit()
        await asyncio.wait_for(closing, 10)
        alive = await blocker.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = $1", waiting[0]
        )
        assert alive == 1, "the connection that wrote the batch was not dropped"
        count = await blocker.fetchval("SELECT count(*) FROM audit_events")
        assert count == 250
    finally:
        await blocker.close()
        await audit.close()
        await database.close()
