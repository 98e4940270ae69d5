"""Replay caches for DPoP proof ``jti``s (RFC 9449 §11.1): a proof counts once. One process
keeps them in memory; an API on several instances shares one cache, e.g. in Redis."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol


class ReplayCache(Protocol):
    async def first_use(self, jti: str, ttl: float) -> bool:
        """Record ``jti`` for ``ttl`` seconds; False when it is already recorded."""


class MemoryReplayCache:
    """One process's proof jtis (the default). An API on several instances passes a shared
    cache instead (``RedisReplayCache``)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._seen: dict[str, float] = {}

    async def first_use(self, jti: str, ttl: float) -> bool:
        now = self._clock()
        if len(self._seen) > 10_000:
            self._seen = {key: until for key, until in self._seen.items() if until > now}
        if self._seen.get(jti, 0) > now:
            return False
        self._seen[jti] = now + ttl
        return True


class RedisReplayCache:
    """Proof jtis in Redis, shared by every instance of the API: one ``SET key 1 NX PX ttl``
    a proof. ``client``: a ``redis.asyncio`` client (``pip install 'yihaotong-resource[redis]'``);
    one made by ``from_url`` is closed with the ``ResourceServer``, one passed in is not."""

    def __init__(self, client: Any, prefix: str = "dpop-jti:", *, owned: bool = False) -> None:
        self._client = client
        self._prefix = prefix
        self._owned = owned

    @classmethod
    def from_url(cls, url: str, prefix: str = "dpop-jti:") -> RedisReplayCache:
        try:
            import redis.asyncio as aioredis
        except ImportError as error:  # pragma: no cover - depends on the install
            raise ImportError(
                "RedisReplayCache needs redis: pip install 'yihaotong-resource[redis]'"
            ) from error
        return cls(aioredis.Redis.from_url(url), prefix, owned=True)

    async def first_use(self, jti: str, ttl: float) -> bool:
        milliseconds = max(1, int(ttl * 1000))
        return bool(await self._client.set(self._prefix + jti, b"1", nx=True, px=milliseconds))

    async def aclose(self) -> None:
        if self._owned:
            await self._client.aclose()
