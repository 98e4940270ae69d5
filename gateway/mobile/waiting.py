"""PC pages waiting for their ticket to move on (long-poll), without a loop per page.

A page's request waits on an event; an app's scan or answer handled by this instance sets it
at once. Where instances share Redis, the instance that handled the app's call also publishes
the ticket's digest on one channel, to which each instance keeps one subscription (from its
start): the instance where the page waits wakes it on the message."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from store.kv import ExpiringStoreError

log = logging.getLogger("yihaotong")


class WakeChannel(Protocol):
    """A broadcast to every instance (``store.redis_channel.RedisChannel``)."""

    async def publish(self, message: bytes) -> None: ...

    async def listen(
        self, on_message: Callable[[bytes], None], on_subscribed: Callable[[], None]
    ) -> None: ...


@dataclass
class _Waiting:
    pages: int = 0
    event: asyncio.Event = field(default_factory=asyncio.Event)


def _listener_ended(task: asyncio.Task[None]) -> None:
    # The subscription retries store failures itself; anything else ends it, and pages on this
    # instance then learn of other instances' scans only when their long-poll runs out.
    if not task.cancelled() and task.exception() is not None:
        log.error(
            "the scan-to-sign-in subscription ended; pages wait out their long-polls",
            exc_info=task.exception(),
        )


class ScanWaiters:
    def __init__(self, channel: WakeChannel | None = None) -> None:
        self._channel = channel
        self._waiting: dict[str, _Waiting] = {}
        self._listener: asyncio.Task[None] | None = None
        self.subscribed = asyncio.Event()  # set once the channel's subscription is made

    def start(self) -> None:
        """Subscribe (in a task of its own, for the life of the process)."""
        if self._channel is not None and self._listener is None:
            self._listener = asyncio.create_task(
                self._channel.listen(self._wake_here, self._wake_all)
            )
            self._listener.add_done_callback(_listener_ended)

    async def wake(self, digest: str) -> None:
        """The ticket moved on: wake its pages here, and tell the other instances."""
        self._wake_here(digest)
        if self._channel is not None:
            try:
                await self._channel.publish(digest.encode())
            except ExpiringStoreError:
                # The page's long-poll still ends by itself and reads the ticket again.
                log.warning("the scan-to-sign-in wake-up was not published", exc_info=True)

    def _wake_here(self, digest: bytes | str) -> None:
        key = digest.decode(errors="replace") if isinstance(digest, bytes) else digest
        waiting = self._waiting.get(key)
        if waiting is not None:
            waiting.event.set()

    def _wake_all(self) -> None:
        # (Re)subscribed: what was published meanwhile is lost, so every page reads again.
        self.subscribed.set()
        for waiting in self._waiting.values():
            waiting.event.set()

    async def wait(self, digest: str, seconds: float) -> None:
        """Until the ticket may have moved on, or ``seconds`` passed."""
        waiting = self._waiting.setdefault(digest, _Waiting())
        waiting.pages += 1
        try:
            # A deadline on this task, not wait_for's task a page: 10,000 pages wait cheaply.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(seconds):
                    await waiting.event.wait()
        finally:
            waiting.pages -= 1
            if waiting.pages == 0 and self._waiting.get(digest) is waiting:
                self._waiting.pop(digest)

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            # A listener that failed has said so already (``_listener_ended``).
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener
