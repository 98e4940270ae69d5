"""Which accounts changed, as PostgreSQL tells every listening process (LISTEN/NOTIFY).

A trigger on the accounts table (migration 0008) sends the id of each updated or deleted
account on ``CHANNEL`` when the change commits, whoever made it: an instance, the CLI, the
admin API or an operator's SQL. A process that keeps accounts in memory listens here and
forgets what changed. While it is not listening (before the first connection, after one is
lost) it may have missed a change, so ``listening`` is False and it must not trust what it
kept; ``on_gap`` is called whenever that happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

import asyncpg
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from store.hot import close_driver, detached_connection

CHANNEL = "yihaotong_accounts"
EVERY_ACCOUNT = "*"  # the payload of a TRUNCATE
RETRY_SECONDS = 5.0

log = logging.getLogger("yihaotong")


class AccountChanges:
    """One listening connection (``store.hot.detached_connection``). ``on_change(account_id)``
    runs for each change, ``on_gap()`` when changes may have been missed; ``resume()`` listens
    again after a loss, at most once every ``RETRY_SECONDS``, without making the caller wait."""

    def __init__(
        self,
        engine: AsyncEngine,
        on_change: Callable[[str], None],
        on_gap: Callable[[], None],
    ) -> None:
        self._engine = engine
        self._on_change = on_change
        self._on_gap = on_gap
        self._connection: asyncpg.Connection | None = None
        self._connecting: asyncio.Task[None] | None = None
        self._last_attempt = float("-inf")
        self._closed = False

    @property
    def listening(self) -> bool:
        connection = self._connection
        return connection is not None and not connection.is_closed()

    async def start(self) -> None:
        """Listen; on failure (no database, no permission) stay deaf and say so in the log."""
        self._last_attempt = time.monotonic()
        connection: asyncpg.Connection | None = None
        try:
            _, connection = await detached_connection(self._engine)
            await connection.add_listener(CHANNEL, self._notified)
            connection.add_termination_listener(self._terminated)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, DBAPIError) as error:
            if connection is not None:
                connection.terminate()
            log.warning(
                "not listening for account changes; accounts are read from the database",
                extra={"fields": {"error": type(error).__name__}},
            )
            return
        if self._closed:
            await connection.close()
            return
        self._connection = connection

    def resume(self) -> None:
        """Listen again soon when not listening (a lost connection, a failed start)."""
        if self._closed or self.listening or self._connecting is not None:
            return
        if time.monotonic() - self._last_attempt < RETRY_SECONDS:
            return
        self._connecting = asyncio.create_task(self._resume())

    async def _resume(self) -> None:
        try:
            await self.start()
        finally:
            self._connecting = None

    def _notified(self, connection: Any, pid: int, channel: str, payload: str) -> None:
        if payload == EVERY_ACCOUNT:
            self._on_gap()
        else:
            self._on_change(payload)

    def _terminated(self, connection: Any) -> None:
        if connection is self._connection:
            self._connection = None
        self._on_gap()
        if not self._closed:
            log.warning("account change feed lost; accounts are read from the database")

    async def close(self) -> None:
        self._closed = True
        if self._connecting is not None:
            self._connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connecting
        connection, self._connection = self._connection, None
        if connection is not None and not connection.is_closed():
            await close_driver(connection)
