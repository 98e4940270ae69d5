"""PC pages waiting for their ticket to move on (long-poll), without a loop per page.

A page's request waits on an event; an app's scan or answer handled by this instance sets it
at once. Where other instances share the store (Redis), one task per instance reads the
tickets waited on here in one ``get_many`` a second and wakes those that moved on, so an
answer given to another instance arrives within about a second."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from store import kv_keys
from store.kv import ExpiringStore

log = logging.getLogger("yihaotong")
SWEEP_SECONDS = 1.0
_RANK = {"waiting": 0, "scanned": 1}  # anything else is an answer (or the end)


@dataclass
class _Waiting:
    since: int  # the rank of the state the waiting pages saw
    pages: int = 0
    event: asyncio.Event = field(default_factory=asyncio.Event)


class ScanWaiters:
    def __init__(self, expiring: ExpiringStore, shared: bool) -> None:
        self._store, self._shared = expiring, shared
        self._waiting: dict[str, _Waiting] = {}
        self._sweeper: asyncio.Task[None] | None = None

    def wake(self, digest: str) -> None:
        waiting = self._waiting.get(digest)
        if waiting is not None:
            waiting.event.set()

    async def wait(self, digest: str, since: str, seconds: float) -> None:
        """Until the ticket may have moved on from ``since``, or ``seconds`` passed."""
        waiting = self._waiting.setdefault(digest, _Waiting(_RANK.get(since, 2)))
        waiting.pages += 1
        if self._shared and self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep())
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiting.event.wait(), seconds)
        finally:
            waiting.pages -= 1
            if waiting.pages == 0:
                self._waiting.pop(digest, None)

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            digests = list(self._waiting)
            if not digests:
                continue
            keys = [k for d in digests for k in (kv_keys.scan_claim(d), kv_keys.scan_outcome(d))]
            try:
                values = await self._store.get_many(*keys)
            except Exception:
                log.warning("the scan-to-sign-in sweep failed; will retry", exc_info=True)
                continue
            for i, digest in enumerate(digests):
                claim, outcome = values[2 * i], values[2 * i + 1]
                rank = 2 if outcome is not None else 1 if claim is not None else 0
                waiting = self._waiting.get(digest)
                if waiting is not None and rank > waiting.since:
                    waiting.event.set()

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
