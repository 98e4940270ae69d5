"""The Redis expiring store: shared by every gateway process; works on a single node, Sentinel
and Redis Cluster because each operation touches one key."""

from __future__ import annotations

from typing import Any

try:
    import redis.asyncio as aioredis
    from redis.exceptions import RedisError
except ImportError as error:  # pragma: no cover - depends on the install
    raise ImportError(
        "YIHAOTONG_REDIS_URL needs the redis extra: pip install 'yihaotong[redis]'"
    ) from error

from store.kv import ExpiringStoreError, check_ttl

# INCRBY and set the deadline only on the first increment, in one round trip.
_INCR_FIXED_WINDOW = """
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return value
"""


def _ms(ttl: float) -> int:
    check_ttl(ttl)
    return max(1, round(ttl * 1000))


class RedisStore:
    def __init__(self, client: Any, prefix: str = "yht:") -> None:
        self._redis = client
        self._prefix = prefix
        self._incr = client.register_script(_INCR_FIXED_WINDOW)

    @classmethod
    def from_url(cls, url: str, prefix: str = "yht:") -> RedisStore:
        client = aioredis.Redis.from_url(
            url, socket_timeout=5, socket_connect_timeout=5, health_check_interval=30
        )
        return cls(client, prefix)

    def _k(self, key: str) -> str:
        return self._prefix + key

    async def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return await getattr(self._redis, method)(*args, **kwargs)
        except RedisError as error:
            raise ExpiringStoreError(f"redis {method} failed: {type(error).__name__}") from error

    async def get(self, key: str) -> bytes | None:
        return await self._call("get", self._k(key))

    async def put(self, key: str, value: bytes, ttl: float) -> None:
        await self._call("set", self._k(key), value, px=_ms(ttl))

    async def add(self, key: str, value: bytes, ttl: float) -> bool:
        return bool(await self._call("set", self._k(key), value, px=_ms(ttl), nx=True))

    async def replace(self, key: str, value: bytes, ttl: float) -> bool:
        return bool(await self._call("set", self._k(key), value, px=_ms(ttl), xx=True))

    async def take(self, key: str) -> bytes | None:
        return await self._call("getdel", self._k(key))

    async def delete(self, key: str) -> bool:
        return bool(await self._call("delete", self._k(key)))

    async def incr(self, key: str, ttl: float, amount: int = 1) -> int:
        try:
            return int(await self._incr(keys=[self._k(key)], args=[amount, _ms(ttl)]))
        except RedisError as error:
            raise ExpiringStoreError(f"redis incr failed: {type(error).__name__}") from error

    async def set_add(self, key: str, member: str, ttl: float) -> None:
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                await pipe.sadd(self._k(key), member).pexpire(self._k(key), _ms(ttl)).execute()
        except RedisError as error:
            raise ExpiringStoreError(f"redis sadd failed: {type(error).__name__}") from error

    async def set_remove(self, key: str, member: str) -> None:
        await self._call("srem", self._k(key), member)

    async def set_members(self, key: str) -> set[str]:
        members = await self._call("smembers", self._k(key))
        return {m.decode() if isinstance(m, bytes) else m for m in members}

    async def ttl(self, key: str) -> float | None:
        left = await self._call("pttl", self._k(key))
        return None if left < 0 else left / 1000

    async def ping(self) -> None:
        await self._call("ping")

    async def close(self) -> None:
        await self._redis.aclose()
