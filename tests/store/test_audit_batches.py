"""Batched audit entries: an entry the database refuses does not hold back the others."""

from __future__ import annotations

import logging

from gateway.audit import AuditLog
from store.clock import SystemClock
from store.database import Database
from store.migrate import upgrade
from store.records import AuditEvent


async def test_an_entry_the_database_refuses_is_dropped_alone(postgres_url: str, caplog) -> None:
    database = Database(postgres_url)
    await upgrade(database)
    audit = AuditLog(database, SystemClock())
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
        audit.queue(AuditEvent("token.issued", actor="later"))
        await audit.flush()  # the next batch is not held back
        assert len(await audit.query()) == 3
    finally:
        await audit.close()
        await database.close()
