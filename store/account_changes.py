"""Which accounts changed, as PostgreSQL tells every listening process (LISTEN/NOTIFY).

A trigger on the accounts table (migration 0008) sends the id of each updated or deleted
account on ``CHANNEL`` when the change commits, whoever made it: an instance, the CLI, the
admin API or an operator's SQL. A process that keeps accounts in memory listens here and
forgets what changed. While it is not listening (before the first connection, after one is
lost) it may have missed a change, so ``listening`` is False and it must not trust what it
kept; ``on_gap`` is called whenever that happens.

SQLAlchemy has no LISTEN, so this keeps one asyncpg connection of its own, opened from the
same URL; asyncpg is imported only here, which only a PostgreSQL deployment loads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from typing import Any

import asyncpg
from sqlalchemy.engine import URL

CHANNEL = "yihaotong_accounts"
ORGANISATION_CHANNEL = "yihaotong_organisation"  # whose roles, groups or links changed (0021)
EVERY_ACCOUNT = "*"  # the payload of a TRUNCATE
RETRY_SECONDS = (0.5, 1.0, 2.0, 5.0)  # between attempts to listen again, then every 5 s
CONNECT_SECONDS = 10.0

log = logging.getLogger("yihaotong")


def driver_dsn(url: URL) -> str:
    """The SQLAlchemy URL as asyncpg takes it (``postgresql://``, no driver name)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class AccountChanges:
    """One listening connection, kept by a task of its own: lost, it is opened again (quietly:
    one warning when it is lost, one line when it is back). ``on_change(account_id)`` runs for
    each change, ``on_gap()`` when changes may have been missed; ``also`` maps other channels
    to what runs for each of their payloads."""

    def __init__(
        self,
        url: URL,
        on_change: Callable[[str], None],
        on_gap: Callable[[], None],
        also: Mapping[str, Callable[[str], None]] | None = None,
    ) -> None:
        self._dsn = driver_dsn(url)
        self._on_change = on_change
        self._also = dict(also or {})  # other channels heard on the same connection
        self._on_gap = on_gap
        self._connection: asyncpg.Connection | None = None
        self._lost = asyncio.Event()
        self._keeper: asyncio.Task[None] | None = None

    @property
    def listening(self) -> bool:
        connection = self._connection
        return connection is not None and not connection.is_closed()

    async def start(self) -> None:
        """Listen (the first attempt is awaited, so a healthy start is trusted at once); on
        failure stay deaf, say so once, and keep trying in the background."""
        if not await self._listen():
            log.warning("not listening for account changes; accounts are read from the database")
        self._keeper = asyncio.create_task(self._keep_listening())

    async def _listen(self) -> bool:
        connection: asyncpg.Connection | None = None
        try:
            connection = await asyncpg.connect(self._dsn, timeout=CONNECT_SECONDS)
            await connection.add_listener(CHANNEL, self._notified)
            for channel in self._also:
                await connection.add_listener(channel, self._notified)
        except Exception:  # whatever the reason, not listening is the answer
            if connection is not None:
                connection.terminate()
            return False
        self._lost.clear()
        connection.add_termination_listener(self._terminated)
        self._connection = connection
        return True

    async def _keep_listening(self) -> None:
        attempt = 0
        while True:
            if self.listening:
                await self._lost.wait()
                log.warning("account change feed lost; accounts are read from the database")
                attempt = 0
            await asyncio.sleep(RETRY_SECONDS[min(attempt, len(RETRY_SECONDS) - 1)])
            attempt += 1
            if await self._listen():
                log.info("listening for account changes again")

    def _notified(self, connection: Any, pid: int, channel: str, payload: str) -> None:
        if channel in self._also:
            self._also[channel](payload)
        elif payload == EVERY_ACCOUNT:
            self._on_gap()
        else:
            self._on_change(payload)

    def _terminated(self, connection: Any) -> None:
        if connection is self._connection:
            self._connection = None
            self._on_gap()
            self._lost.set()

    async def close(self) -> None:
        keeper, self._keeper = self._keeper, None
        if keeper is not None:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
        connection, self._connection = self._connection, None
        if connection is not None and not connection.is_closed():
            try:
                await connection.close(timeout=2)
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
                connection.terminate()
