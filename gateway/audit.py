"""The audit log: every security event and admin change, durable and append-only.

Admin changes write their entry inside the change's own transaction, so a change whose entry
cannot be written does not happen. Sign-ins and consents are written before the response is
sent. Token issuance, the busiest event, is queued and written in batches (one INSERT for many
tokens) so it never serialises the token endpoint; the queue is flushed at shutdown.
Every entry is also a structured log line. Personal data is masked in both."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import replace
from typing import Any

from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from gateway.logs import log_line
from policies.identifiers import mask, mask_phone
from store import audit as audit_store
from store.clock import Clock
from store.database import Database
from store.records import AuditEvent

log = logging.getLogger("yihaotong.audit")

_MASKS = {
    "phone": mask_phone,
    "phone_number": mask_phone,
    "national_id": mask,
    "uscc": mask,
    "email": lambda value: mask(value, 2, 0 if "@" not in value else len(value.split("@")[-1]) + 1),
    "name": lambda value: mask(value, 1, 0),
    "username": lambda value: mask(value, 2, 1),
}
_SECRET_KEYS = frozenset({"password", "client_secret", "secret", "token", "refresh_token"})
_BATCH = 200
_FLUSH_SECONDS = 0.5
_CLOSE_WAIT_SECONDS = 10.0


def masked(value: Any, key: str | None = None) -> Any:
    """``value`` with personal data masked and secrets removed, at any depth."""
    if isinstance(value, dict):
        return {k: "[removed]" if k in _SECRET_KEYS else masked(v, k) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [masked(item, key) for item in value]
    if isinstance(value, str) and key in _MASKS:
        return _MASKS[key](value)
    return value


def diff(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, Any]:
    """The fields that changed, each as ``{"before": ..., "after": ...}``."""
    before, after = before or {}, after or {}
    return {
        name: {"before": before.get(name), "after": after.get(name)}
        for name in sorted(set(before) | set(after))
        if before.get(name) != after.get(name)
    }


def request_facts(request: Request | None) -> dict[str, str | None]:
    if request is None:
        return {"ip": None, "request_id": None}
    return {
        "ip": request.client.host if request.client else None,
        "request_id": request.scope.get("state", {}).get("request_id"),
    }


class AuditLog:
    def __init__(self, database: Database, clock: Clock) -> None:
        self._db = database
        self._clock = clock
        self._queue: list[AuditEvent] = []
        self._wakeup = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None
        self._closing = False  # no more waiting between batches: write what is queued

    def _prepare(self, event: AuditEvent, **facts: str) -> AuditEvent:
        prepared = replace(
            event, details=masked(event.details), at=event.at or self._clock.now(), **facts
        )
        level = logging.INFO if prepared.outcome == "success" else logging.WARNING
        fields = {
            "event": prepared.event,
            "outcome": prepared.outcome,
            "actor": prepared.actor,
            "target": prepared.target,
            "client_id": prepared.client_id,
            "request_id": prepared.request_id,
            "check": prepared.check,
        }
        log_line(log, level, prepared.event, {k: v for k, v in fields.items() if v})
        return prepared

    async def record(
        self, event: AuditEvent, session: AsyncSession | None = None, request: Request | None = None
    ) -> AuditEvent:
        """Write ``event`` now: inside ``session`` (committing with the caller's change) or in a
        transaction of its own. A failure propagates: nothing happens unrecorded."""
        facts = {} if request is None else {k: v for k, v in request_facts(request).items() if v}
        prepared = self._prepare(event, **facts)
        if session is not None:
            await audit_store.append(session, prepared)
        else:
            await audit_store.append_alone(self._db, prepared)
        return prepared

    def queue(self, event: AuditEvent) -> None:
        """Write ``event`` with the next batch (busy, low-stakes events such as tokens issued)."""
        self._queue.append(self._prepare(event))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush_loop())
        if len(self._queue) >= _BATCH:
            self._wakeup.set()

    async def _flush_loop(self) -> None:
        while self._queue:
            if not self._closing:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), _FLUSH_SECONDS)
            self._wakeup.clear()
            await self.flush()

    async def flush(self) -> None:
        batch, self._queue = self._queue, []
        if not batch:
            return
        try:
            await audit_store.append_alone(self._db, *batch)
        except (DataError, IntegrityError):
            # The database refused an entry (not an outage): write them one by one, so that one
            # it cannot store does not hold back every later batch.
            await self._write_each(batch)
        except BaseException as error:
            self._queue[:0] = batch  # cancelled (shutdown) or failed: written by the next flush
            if not isinstance(error, Exception):
                raise
            log.exception("audit batch not written; will retry", extra={"fields": {}})
            await asyncio.sleep(_FLUSH_SECONDS)

    async def _write_each(self, batch: list[AuditEvent]) -> None:
        for position, event in enumerate(batch):
            try:
                await audit_store.append_alone(self._db, event)
            except (DataError, IntegrityError) as error:
                # Its log line was written when it was queued; the database will never take it.
                log.error(
                    "audit entry refused by the database; dropped",
                    extra={"fields": {"event": event.event[:64], "error": type(error).__name__}},
                )
            except BaseException as error:
                self._queue[:0] = batch[position:]  # the rest: written by the next flush
                if not isinstance(error, Exception):
                    raise
                log.exception("audit batch not written; will retry", extra={"fields": {}})
                return

    async def close(self) -> None:
        """Write what is queued. A batch being written is let finish: cancelled in the middle of
        its statement, a batch the database had already committed would be queued again and
        written twice (and a shutdown that cancelled asyncpg mid-statement was once seen to hang).
        Only a flusher still failing after ``_CLOSE_WAIT_SECONDS`` is cancelled."""
        self._closing = True
        flusher = self._flusher
        if flusher is not None and not flusher.done():
            self._wakeup.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(flusher), _CLOSE_WAIT_SECONDS)
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
        for _ in range(3):
            if not self._queue:
                break
            await self.flush()

    async def query(self, **filters: Any) -> list[AuditEvent]:
        await self.flush()  # what was queued is part of the answer
        async with self._db.sessions() as session:
            return await audit_store.query(session, **filters)
