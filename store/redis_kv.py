"""The Redis expiring store: shared by every gateway process.

One URL chooses the deployment (see ``connect``): a single node, Sentinel, or Redis Cluster.
Every operation is one command or one Lua script on one key, so it is atomic on all three and
a cluster never needs hash tags or cross-slot commands; each is one round trip. ``put_many`` is
several SETs, each on one key, in one pipeline without MULTI.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, unquote

try:
    import redis.asyncio as aioredis
    from redis.asyncio.cluster import ClusterNode, RedisCluster
    from redis.asyncio.retry import Retry
    from redis.asyncio.sentinel import Sentinel
    from redis.backoff import NoBackoff
    from redis.exceptions import RedisClusterException, RedisError
except ImportError as error:  # pragma: no cover - depends on the install
    raise ImportError(
        "YIHAOTONG_REDIS_URL needs the redis extra: pip install 'yihaotong[redis]'"
    ) from error

from store.kv import (
    SEPARATOR,
    SPENT,
    SPENT_AGAIN,
    UNSETTLED,
    ExpiringStoreError,
    Redemption,
    check_ttl,
)

# Cluster client errors (no reachable node, a slot nobody serves) are not RedisErrors.
_FAILURES = (RedisError, RedisClusterException)
_TIMEOUTS: dict[str, Any] = {"socket_timeout": 5, "socket_connect_timeout": 5}

# INCRBY and set the deadline only on the first increment, in one round trip.
_INCR_FIXED_WINDOW = """
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return value
"""

# SADD and (re)set the deadline atomically; a script, not MULTI, because cluster pipelines
# support transactions only in recent redis-py releases.
_SADD_WITH_TTL = """
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
"""

Closer = Callable[[], Awaitable[None]]


# Single-use credentials (see store/kv.py for the layout): each step one script on one key.
# ARGV carries the separator and prefixes, so the script text holds no NUL bytes.
_REDEEM = """
local v = redis.call('GET', KEYS[1])
if not v then return {'absent'} end
local sep, spent, again = ARGV[3], ARGV[4], ARGV[5]
if string.sub(v, 1, #again) == again then return {'reused', string.sub(v, #again + 1)} end
if string.sub(v, 1, #spent) == spent then
  local marker = string.sub(v, #spent + 1)
  redis.call('SET', KEYS[1], again .. marker, 'KEEPTTL')
  return {'reused', marker}
end
local cut = string.find(v, sep, 1, true)
if not cut or string.sub(v, 1, cut - 1) ~= ARGV[1] then return {'foreign'} end
local left = redis.call('PTTL', KEYS[1])
redis.call('SET', KEYS[1], spent .. '{}', 'PX', ARGV[2])
return {'redeemed', string.sub(v, cut + 1), left}
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) ~= ARGV[3] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""
_SETTLE = """
local v = redis.call('GET', KEYS[1])
local spent, again = ARGV[3], ARGV[4]
local flagged = v and string.sub(v, 1, #again) == again
local prefix = spent
if flagged then prefix = again end
redis.call('SET', KEYS[1], prefix .. ARGV[1], 'PX', ARGV[2])
if flagged then return 1 end
return 0
"""


def _ms(ttl: float) -> int:
    check_ttl(ttl)
    return max(1, round(ttl * 1000))


class RedisStore:
    def __init__(self, client: Any, prefix: str = "yht:", closers: tuple[Closer, ...] = ()) -> None:
        self._redis = client
        self._prefix = prefix
        self._closers = closers or (client.aclose,)
        self._incr = client.register_script(_INCR_FIXED_WINDOW)
        self._sadd = client.register_script(_SADD_WITH_TTL)
        self._redeem = client.register_script(_REDEEM)
        self._settle = client.register_script(_SETTLE)
        self._release = client.register_script(_RELEASE)

    @classmethod
    def from_url(cls, url: str, prefix: str = "yht:") -> RedisStore:
        client, closers = connect(url)
        return cls(client, prefix, closers)

    def _k(self, key: str) -> str:
        return self._prefix + key

    async def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return await getattr(self._redis, method)(*args, **kwargs)
        except _FAILURES as error:
            raise ExpiringStoreError(f"redis {method} failed: {type(error).__name__}") from error

    async def _script(self, name: str, script: Any, key: str, *args: Any) -> Any:
        try:
            return await script(keys=[self._k(key)], args=list(args))
        except _FAILURES as error:
            raise ExpiringStoreError(f"redis {name} failed: {type(error).__name__}") from error

    async def get(self, key: str) -> bytes | None:
        return await self._call("get", self._k(key))

    async def issue(self, key: str, owner: str, value: bytes, ttl: float) -> None:
        await self.put(key, owner.encode() + SEPARATOR + value, ttl)

    async def redeem(self, key: str, owner: str, spent_ttl: float) -> Redemption:
        found = await self._script(
            "redeem",
            self._redeem,
            key,
            owner,
            _ms(spent_ttl),
            SEPARATOR,
            SPENT,
            SPENT_AGAIN,
        )
        outcome = found[0].decode()
        value = found[1] if len(found) > 1 else None
        left = found[2] / 1000 if len(found) > 2 and found[2] > 0 else None
        return Redemption(outcome, value, left)  # type: ignore[arg-type]

    async def release(self, key: str, owner: str, value: bytes, ttl: float) -> bool:
        restored = owner.encode() + SEPARATOR + value
        put_back = await self._script("release", self._release, key, restored, _ms(ttl), UNSETTLED)
        return bool(put_back)

    async def settle(self, key: str, marker: bytes, spent_ttl: float) -> bool:
        flagged = await self._script(
            "settle", self._settle, key, marker, _ms(spent_ttl), SPENT, SPENT_AGAIN
        )
        return bool(flagged)

    async def get_many(self, *keys: str) -> list[bytes | None]:
        # One MGET: a pipeline of GETs costs several times the client CPU for the same round
        # trip. A cluster's keys may live in different slots, so there it is one MGET per slot
        # (redis-py sends them concurrently).
        if not keys:
            return []
        names = [self._k(key) for key in keys]
        if isinstance(self._redis, RedisCluster):
            return list(await self._call("mget_nonatomic", names))
        return list(await self._call("mget", names))

    async def put(self, key: str, value: bytes, ttl: float) -> None:
        await self._call("set", self._k(key), value, px=_ms(ttl))

    async def put_many(self, *entries: tuple[str, bytes, float]) -> None:
        # A pipeline without MULTI: one round trip for plain SETs (a cluster client sends one
        # per node, concurrently), each SET atomic alone, as the protocol promises.
        if not entries:
            return
        ttls = [_ms(ttl) for _, _, ttl in entries]
        try:
            async with self._redis.pipeline(transaction=False) as pipeline:
                for (key, value, _), ttl in zip(entries, ttls, strict=True):
                    pipeline.set(self._k(key), value, px=ttl)
                await pipeline.execute()
        except _FAILURES as error:
            raise ExpiringStoreError(f"redis set failed: {type(error).__name__}") from error

    async def add(self, key: str, value: bytes, ttl: float) -> bool:
        return bool(await self._call("set", self._k(key), value, px=_ms(ttl), nx=True))

    async def replace(self, key: str, value: bytes, ttl: float) -> bool:
        return bool(await self._call("set", self._k(key), value, px=_ms(ttl), xx=True))

    async def take(self, key: str) -> bytes | None:
        return await self._call("getdel", self._k(key))

    async def delete(self, key: str) -> bool:
        return bool(await self._call("delete", self._k(key)))

    async def incr(self, key: str, ttl: float, amount: int = 1) -> int:
        return int(await self._script("incr", self._incr, key, amount, _ms(ttl)))

    async def incr_many(self, *counters: tuple[str, float, int]) -> list[int]:
        # One pipeline of the fixed-window script (no MULTI: each counter is atomic alone); a
        # cluster's keys live in different slots, so there each is its own call, concurrently.
        if isinstance(self._redis, RedisCluster):
            counted = (self.incr(key, ttl, amount) for key, ttl, amount in counters)
            return list(await asyncio.gather(*counted))
        if not counters:
            return []
        ttls = [_ms(ttl) for _, ttl, _ in counters]
        try:
            async with self._redis.pipeline(transaction=False) as pipeline:
                for (key, _, amount), ttl in zip(counters, ttls, strict=True):
                    await self._incr(keys=[self._k(key)], args=[amount, ttl], client=pipeline)
                return [int(value) for value in await pipeline.execute()]
        except _FAILURES as error:
            raise ExpiringStoreError(f"redis incr failed: {type(error).__name__}") from error

    async def set_add(self, key: str, member: str, ttl: float) -> None:
        await self._script("sadd", self._sadd, key, member, _ms(ttl))

    async def set_remove(self, key: str, member: str) -> None:
        await self._call("srem", self._k(key), member)

    async def set_members(self, key: str) -> set[str]:
        members = await self._call("smembers", self._k(key))
        return {m.decode() if isinstance(m, bytes) else m for m in members}

    async def ttl(self, key: str) -> float | None:
        left = await self._call("pttl", self._k(key))
        return None if left < 0 else left / 1000

    async def ping(self) -> None:
        await self._call("ping")  # a cluster client pings every node

    async def close(self) -> None:
        for close in self._closers:
            await close()


# -- URLs -------------------------------------------------------------------------------------


def connect(url: str) -> tuple[Any, tuple[Closer, ...]]:
    """A client for ``url`` and what closes it: ``redis://``, ``rediss://`` or ``unix://`` (one
    server, redis-py's own URL), ``redis+cluster://`` or ``redis+sentinel://`` (each also with
    ``rediss+``). The formats are in docs/scaling.md, "The Redis URL"."""
    scheme, _, rest = url.partition("://")
    if scheme in ("redis+cluster", "rediss+cluster"):
        return _cluster(rest, tls=scheme.startswith("rediss"))
    if scheme in ("redis+sentinel", "rediss+sentinel"):
        return _sentinel(rest, tls=scheme.startswith("rediss"))
    client = aioredis.Redis.from_url(url, health_check_interval=30, **_TIMEOUTS)
    return client, (client.aclose,)


def _cluster(rest: str, tls: bool) -> tuple[Any, tuple[Closer, ...]]:
    credentials, hosts, path, query = _split(rest, default_port=6379, scheme="redis+cluster")
    if path.strip("/") not in ("", "0"):
        raise ValueError("redis+cluster URL: a cluster has only database 0")
    _no_options(query, set(), "redis+cluster")
    # reinitialize_steps=0: a MOVED reply only updates that slot. Refreshing the whole map (the
    # default, every 5th MOVED) closes connections other commands are waiting on, and redis-py
    # then sends those commands again: one INCR counted twice, one SET NX answered "exists".
    client = RedisCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in hosts],
        reinitialize_steps=0,
        ssl=tls,
        **credentials,
        **_TIMEOUTS,
    )
    return client, (client.aclose,)


def _sentinel(rest: str, tls: bool) -> tuple[Any, tuple[Closer, ...]]:
    credentials, hosts, path, query = _split(rest, default_port=26379, scheme="redis+sentinel")
    service, _, db = path.strip("/").partition("/")
    if not service:
        raise ValueError("redis+sentinel URL: name the service, e.g. redis+sentinel://h:26379/yht")
    if db and not db.isdigit():
        raise ValueError("redis+sentinel URL: the database after the service is a number")
    _no_options(query, {"sentinel_username", "sentinel_password"}, "redis+sentinel")
    sentinel_auth = {k.removeprefix("sentinel_"): v for k, v in query.items()}
    # Each sentinel is asked once: the next one in the list is the retry (redis-py would
    # otherwise back off and retry each, seconds per request while they are down).
    once = {"retry": Retry(NoBackoff(), 0), "ssl": tls, **_TIMEOUTS}
    sentinel = Sentinel(hosts, sentinel_kwargs={**once, **sentinel_auth}, **_TIMEOUTS)
    client = sentinel.master_for(
        service, db=int(db or 0), ssl=tls, health_check_interval=30, **credentials
    )

    async def close_sentinels() -> None:
        for node in sentinel.sentinels:
            await node.aclose()

    return client, (client.aclose, close_sentinels)


def _split(
    rest: str, default_port: int, scheme: str
) -> tuple[dict[str, str], list[tuple[str, int]], str, dict[str, str]]:
    """Credentials, hosts, path and query of ``[user:password@]h[:p],h[:p]/path?query``. Error
    messages never repeat the URL: it may hold a password."""
    rest, _, query = rest.partition("?")
    netloc, slash, path = rest.partition("/")
    userinfo, at, hostlist = netloc.rpartition("@")
    credentials = {}
    if at:
        username, _, password = userinfo.partition(":")
        if username:
            credentials["username"] = unquote(username)
        if password:
            credentials["password"] = unquote(password)
    hosts = [_host_port(part, default_port, scheme) for part in hostlist.split(",") if part]
    if not hosts:
        raise ValueError(f"{scheme} URL: no host")
    return credentials, hosts, slash + path, dict(parse_qsl(query))


def _host_port(part: str, default_port: int, scheme: str) -> tuple[str, int]:
    if part.startswith("["):  # [IPv6]:port
        host, _, port = part[1:].partition("]")
        port = port.removeprefix(":")
    else:
        host, _, port = part.partition(":")
    if not host or (port and not port.isdigit()):
        raise ValueError(f"{scheme} URL: hosts are host:port, separated by commas")
    return host, int(port or default_port)


def _no_options(query: dict[str, str], known: set[str], scheme: str) -> None:
    unknown = sorted(set(query) - known)
    if unknown:
        raise ValueError(f"{scheme} URL: unknown options {unknown}; known: {sorted(known)}")
