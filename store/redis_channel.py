"""One Redis pub/sub channel shared by the processes of a deployment (redis-py's ``PubSub``):
messages are hints that something changed in the store, never state of their own, so a
message lost while a subscription reconnects costs a re-read (``on_subscribed``), not data."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from redis.exceptions import RedisClusterException, RedisError

from store.redis_kv import RedisStore

log = logging.getLogger("yihaotong")
POLL_SECONDS = 1.0  # below the client's socket timeout, so an idle wait is not a failure
RETRY_SECONDS = 1.0


class RedisChannel:
    def __init__(self, store: RedisStore, name: str) -> None:
        self._store = store
        self.name = name

    async def publish(self, message: bytes) -> None:
        await self._store.publish(self.name, message)

    async def listen(
        self, on_message: Callable[[bytes], None], on_subscribed: Callable[[], None]
    ) -> None:
        """Hand every message to ``on_message`` until cancelled; after each (re)subscription
        ``on_subscribed`` runs, since messages published meanwhile were not received."""
        while True:
            pubsub = self._store.pubsub()
            try:
                await pubsub.subscribe(self._store.key(self.name))
                on_subscribed()
                while True:
                    message = await pubsub.get_message(
                        ignore_subscribe_messages=True, timeout=POLL_SECONDS
                    )
                    if message is not None and message.get("type") == "message":
                        on_message(message["data"])
            except (RedisError, RedisClusterException, OSError):
                log.warning("the %s subscription was lost; subscribing again", self.name)
                await asyncio.sleep(RETRY_SECONDS)
            finally:
                await asyncio.shield(pubsub.aclose())
