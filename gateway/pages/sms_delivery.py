"""SMS sends that run after the page has answered: the answer must not tell, by its time or
its words, whether a message went out (a number without an account gets none). The app owns
the sends under way and waits for them at shutdown; a failure goes to the audit log."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

log = logging.getLogger("yihaotong.sms")


class SmsDeliveries:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, send: Awaitable[None]) -> None:
        """Run ``send`` (which audits its own outcome) in the background."""
        task = asyncio.ensure_future(self._guarded(send))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _guarded(send: Awaitable[None]) -> None:
        try:
            await send
        except Exception:  # a store down while auditing: nobody waits for this answer
            log.exception("a background SMS send failed")

    async def drain(self) -> None:
        """Wait for the sends under way (at shutdown, and in tests)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
