"""The audit log: every security event and admin change, durable and append-only.

Admin changes write their entry inside the change's own transaction, so a change whose entry
cannot be written does not happen. Sign-ins and consents are written before the response is
sent. Token issuance, the busiest event, is queued and written in batches (one INSERT for many
tokens) so it never serialises the token endpoint; the queue is flushed at shutdown. A queued
entry is first appended to the local spool (identity/audit_spool.py), before the event is
answered, so a killed process loses none; a batch the database does not take after a few tries
stays there and is replayed (at start, periodically, and as soon as a batch is written again).
Every entry is also a structured log line. Personal data is masked in all three."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.identity.audit_spool import AuditUnavailable, Segment, Spool
from gateway.identity.metrics import observe_event
from gateway.identity.web import RequestFacts
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
_TRIES = 3  # a batch the database does not take after these is left in the spool
_BACKOFF_SECONDS = 0.5  # before the second try; doubled before each later one
_REPLAY_SECONDS = 15.0
_REPLAY_CHUNK = 500
SPOOL_LIMIT = 100_000  # entries waiting in the spool beyond which the instance is not ready
# Writes one line with its own members: (logger, level, message, fields).
LineWriter = Callable[[logging.Logger, int, str, dict[str, Any]], None]


def stdlib_line(logger: logging.Logger, level: int, message: str, fields: dict[str, Any]) -> None:
    """The line as a stdlib record with ``fields`` (a server passes its own, faster writer)."""
    logger.log(level, message, extra={"fields": fields})


def personal_keys() -> frozenset[str]:
    """The detail keys whose values are personal data (masked here, erased on closing)."""
    return frozenset(_MASKS)


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


def request_facts(request: RequestFacts | None) -> dict[str, str | None]:
    if request is None:
        return {"ip": None, "request_id": None}
    return {
        "ip": request.client.host if request.client else None,
        "request_id": request.scope.get("state", {}).get("request_id"),
    }


class AuditLog:
    def __init__(
        self,
        database: Database,
        clock: Clock,
        spool_dir: Path,
        write_line: LineWriter = stdlib_line,
    ) -> None:
        self._db = database
        self._write_line = write_line
        self._clock = clock
        self._spool = Spool(spool_dir)
        self._queue: list[AuditEvent] = []
        self._wakeup = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None
        self._closing = False  # no more waiting between batches: write what is queued
        self._replayer: asyncio.Task[None] | None = None
        self._replay_now = asyncio.Event()
        self._replaying = asyncio.Lock()
        self._flushing = asyncio.Lock()  # a flush returns only once every batch taken is written
        self._waiting = 0  # entries left in the spool, as of the last replay and since
        self._oldest: float | None = None
        self._unwritable: str | None = None  # why the last append to the spool failed

    def _prepare(self, event: AuditEvent, **facts: str) -> AuditEvent:
        return replace(
            event, details=masked(event.details), at=event.at or self._clock.now(), **facts
        )

    def _log(self, prepared: AuditEvent) -> None:
        observe_event(prepared)
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
        self._write_line(log, level, prepared.event, {k: v for k, v in fields.items() if v})

    async def record(
        self,
        event: AuditEvent,
        session: AsyncSession | None = None,
        request: RequestFacts | None = None,
    ) -> AuditEvent:
        """Write ``event`` now: inside ``session`` (committing with the caller's change) or in a
        transaction of its own. A failure propagates: nothing happens unrecorded."""
        facts = {} if request is None else {k: v for k, v in request_facts(request).items() if v}
        prepared = self._prepare(event, **facts)
        self._log(prepared)
        if session is not None:
            await audit_store.append(session, prepared)
        else:
            await audit_store.append_alone(self._db, prepared)
        return prepared

    def queue(self, event: AuditEvent, request: RequestFacts | None = None) -> None:
        """Write ``event`` with the next batch (busy, low-stakes events such as tokens issued).
        It is in the local spool when this returns; AuditUnavailable when it cannot be."""
        facts = {} if request is None else {k: v for k, v in request_facts(request).items() if v}
        prepared = self._prepare(event, entry_id=secrets.token_hex(16), **facts)
        try:
            self._spool.append(_entry(prepared), prepared.at)
        except AuditUnavailable as error:
            self._unwritable = str(error)
            log.error("audit entry not kept", extra={"fields": {"reason": str(error)}})
            raise
        self._unwritable = None
        self._log(prepared)
        self._queue.append(prepared)
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
        """Write what is queued, after any batch another flush has taken and not yet written."""
        async with self._flushing:
            await self._flush_queued()

    async def _flush_queued(self) -> None:
        batch, self._queue = self._queue, []
        segment = self._spool.seal()
        if not batch:
            if segment is not None:
                self._spool.drop(segment)
            return
        # The segment is made durable beside the batch's write, not before it.
        synced = None if segment is None else asyncio.ensure_future(_sync(segment))
        try:
            refused = await self._write(batch, tries=1 if self._closing else _TRIES)
        except BaseException as error:
            # Cancelled (shutdown), or the database failed every try: the batch's segment is
            # left for a replay; the entries it took meanwhile are skipped then.
            if segment is not None:
                await _finished(synced)
                self._spool.release(segment)
                self._left(segment.entries, segment.oldest)
            if not isinstance(error, Exception):
                raise
            log.error(
                "audit batch not written; left in the local spool",
                extra={"fields": {"entries": len(batch), "error": type(error).__name__}},
            )
            return
        await _finished(synced)
        if refused:
            self._spool.keep([_entry(event) for event in refused])
            self._left(len(refused), min(event.at for event in refused))
        if segment is not None:
            self._spool.drop(segment)
        if self._waiting and not refused:
            self._replay_now.set()  # the database takes entries again

    async def _write(self, batch: list[AuditEvent], tries: int) -> list[AuditEvent]:
        """Write the batch; the entries the database refuses (a value it cannot store, a
        constraint), which the others do not wait for. Raises when every try failed."""
        for attempt in range(tries):
            try:
                await audit_store.append_alone(self._db, *batch)
                return []
            except (DataError, IntegrityError):
                return await self._write_each(batch)
            except Exception as error:
                if attempt + 1 == tries:
                    raise
                log.warning(
                    "audit batch not written; will try again",
                    extra={"fields": {"try": attempt + 1, "error": type(error).__name__}},
                )
                await asyncio.sleep(_BACKOFF_SECONDS * 2**attempt)
        return []  # not reached: tries >= 1

    async def _write_each(self, batch: list[AuditEvent]) -> list[AuditEvent]:
        refused: list[AuditEvent] = []
        for event in batch:
            try:
                await audit_store.append_alone(self._db, event)
            except (DataError, IntegrityError) as error:
                log.error(
                    "audit entry refused by the database; kept in the local spool",
                    extra={"fields": {"event": event.event[:64], "error": type(error).__name__}},
                )
                refused.append(event)
        return refused

    def _left(self, entries: int, oldest: float | None) -> None:
        self._waiting += entries
        if oldest is not None:
            self._oldest = oldest if self._oldest is None else min(self._oldest, oldest)

    def start(self) -> None:
        """Replay what the spool holds now, then periodically (a serving process calls this)."""
        if self._replayer is None:
            self._replayer = asyncio.get_running_loop().create_task(self._replay_loop())

    async def _replay_loop(self) -> None:
        while True:
            try:
                await self.replay()
            except Exception:
                log.exception("audit spool replay failed; will retry", extra={"fields": {}})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._replay_now.wait(), _REPLAY_SECONDS)
            self._replay_now.clear()

    async def replay(self) -> None:
        """Write the entries left in the spool by this process or by one that died, once each:
        an entry already written (a batch that committed before its process died) is skipped."""
        async with self._replaying:
            waiting, oldest = 0, None
            database_down = False
            segments = await asyncio.to_thread(lambda: list(self._spool.claim_leftovers()))
            for segment in segments:
                try:
                    entries, unreadable = await asyncio.to_thread(self._spool.read, segment)
                    if unreadable:
                        log.error(
                            "audit spool lines unreadable; skipped",
                            extra={"fields": {"segment": segment.path.name, "lines": unreadable}},
                        )
                    refused = [] if database_down else await self._write_replayed(entries)
                except Exception as error:
                    database_down = True
                    log.warning(
                        "audit spool not replayed; will retry",
                        extra={"fields": {"error": type(error).__name__}},
                    )
                    refused = None
                if database_down or refused is None:
                    self._spool.release(segment)
                    waiting += segment.entries
                    if segment.oldest is not None:
                        oldest = min(oldest or segment.oldest, segment.oldest)
                    continue
                if refused:
                    self._spool.keep(refused)
                    waiting += len(refused)
                    first = min(float(entry.get("at") or 0) for entry in refused)
                    oldest = min(oldest or first, first)
                self._spool.drop(segment)
                log.warning(
                    "audit entries replayed from the local spool",
                    extra={"fields": {"entries": len(entries) - len(refused)}},
                )
            self._waiting, self._oldest = waiting, oldest

    async def _write_replayed(self, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        refused: list[dict[str, Any]] = []
        for start in range(0, len(entries), _REPLAY_CHUNK):
            chunk = entries[start : start + _REPLAY_CHUNK]
            written = await self._write([_event(entry) for entry in chunk], tries=1)
            ids = {event.entry_id for event in written}
            refused.extend(entry for entry in chunk if entry["entry_id"] in ids)
        return refused

    def backlog(self) -> dict[str, Any]:
        """What waits in the local spool for the database, for /readyz."""
        age = None if self._oldest is None else round(self._clock.now() - self._oldest, 1)
        return {
            "entries": self._waiting,
            "queued": len(self._queue),
            "oldest_age_s": age,
            "unwritable": self._unwritable,
        }

    async def close(self) -> None:
        """Write what is queued. A batch being written is let finish (cancelled mid-statement,
        asyncpg was seen to hang the shutdown); only a flusher still failing after
        ``_CLOSE_WAIT_SECONDS`` is cancelled, and what it held stays in the spool."""
        self._closing = True
        if self._replayer is not None:
            self._replayer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._replayer
        flusher = self._flusher
        if flusher is not None and not flusher.done():
            self._wakeup.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(flusher), _CLOSE_WAIT_SECONDS)
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
        await self.flush()

    async def query(self, **filters: Any) -> list[AuditEvent]:
        await self.flush()  # what was queued is part of the answer
        async with self._db.sessions() as session:
            return await audit_store.query(session, **filters)


async def _sync(segment: Segment) -> None:
    with contextlib.suppress(OSError):  # the database write decides; a release syncs again
        await asyncio.to_thread(Spool.sync, segment)


async def _finished(synced: asyncio.Future[None] | None) -> None:
    """Wait for the fsync in its thread, even when cancelled: its descriptor is closed next."""
    while synced is not None and not synced.done():
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(synced)


_FIELDS = tuple(field.name for field in fields(AuditEvent) if field.name != "id")


def _entry(event: AuditEvent) -> dict[str, Any]:
    """The spool's form of an entry: its row's values (already masked)."""
    return {name: getattr(event, name) for name in _FIELDS}


def _event(entry: dict[str, Any]) -> AuditEvent:
    return AuditEvent(**{name: entry[name] for name in _FIELDS if name in entry})
