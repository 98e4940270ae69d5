"""PC pages waiting for their ticket to move on (long-poll), without a loop per page.

A page's request waits on a future of its own; an app's scan or answer handled by this instance
resolves it at once, and one timer a second of deadline (not one a page) ends the waits whose
time is up. Where instances share Redis, the instance that handled the app's call also publishes
the ticket's digest on one channel, to which each instance keeps one subscription (from its
start): the instance where the page waits wakes it on the message."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable, Iterable
from typing import Protocol

from store.kv import ExpiringStoreError

log = logging.getLogger("yihaotong")


class WakeChannel(Protocol):
    """A broadcast to every instance (``store.redis_channel.RedisChannel``)."""

    async def publish(self, message: bytes) -> None: ...

    async def listen(
        self, on_message: Callable[[bytes], None], on_subscribed: Callable[[], None]
    ) -> None: ...


Page = asyncio.Future[None]


def _resolve(pages: Iterable[Page]) -> None:
    for page in pages:
        if not page.done():
            page.set_result(None)


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
        # Thousands wait at once: a bare future each, by ticket digest and by deadline second.
        self._waiting: dict[str, list[Page]] = {}
        self._due: dict[int, list[Page]] = {}
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
        _resolve(self._waiting.pop(key, ()))

    def _wake_all(self) -> None:
        # (Re)subscribed: what was published meanwhile is lost, so every page reads again.
        self.subscribed.set()
        waiting, self._waiting = self._waiting, {}
        for pages in waiting.values():
            _resolve(pages)

    async def wait(self, digest: str, seconds: float) -> None:
        """Until the ticket may have moved on, or ``seconds`` passed (up to a second more)."""
        loop = asyncio.get_running_loop()
        page: Page = loop.create_future()
        self._waiting.setdefault(digest, []).append(page)
        second = math.ceil(loop.time() + seconds)
        due = self._due.get(second)
        if due is None:
            due = self._due[second] = []
            loop.call_at(second, self._time_up, second)
        due.append(page)
        try:
            await page
        finally:
            pages = self._waiting.get(digest)
            if pages is not None and page in pages:
                pages.remove(page)
                if not pages:
                    del self._waiting[digest]

    def _time_up(self, second: int) -> None:
        _resolve(self._due.pop(second, ()))

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            # A listener that failed has said so already (``_listener_ended``).
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener
