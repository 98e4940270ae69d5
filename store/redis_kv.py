"""The Redis expiring store: shared by every gateway process.

One URL chooses the deployment (``store.redis_connect``): one node, Sentinel, or Redis Cluster.
Every operation is one command or one Lua script on one key, so it is atomic on all three and
a cluster never needs hash tags or cross-slot commands. ``many`` and ``put_many`` send several
such steps in one pipeline without MULTI (on a cluster, one call a step).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

try:
    from redis.asyncio.cluster import RedisCluster
    from redis.exceptions import NoScriptError, RedisClusterException, RedisError
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
    Step,
    check_ttl,
)
from store.redis_connect import IN_FLIGHT, Closer, connect

# Cluster client errors (no reachable node, a slot nobody serves) are not RedisErrors.
_FAILURES = (RedisError, RedisClusterException)

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

# SET NX, then MGET of the other keys: one command, cheaper for the client than a pipeline.
_ADD_AND_GET = """
local added = redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX')
if #KEYS == 1 then return {added and 1 or 0, {}} end
return {added and 1 or 0, redis.call('MGET', unpack(KEYS, 2))}
"""

Sent = Callable[[Any], Awaitable[Any]]  # one command, sent through the client it is given


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
if not cut or string.sub(v, 1, cut - 1) ~= ARGV[1] then
  return {'foreign', '', redis.call('PTTL', KEYS[1])}
end
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

# Expiry ledgers (store/kv.py): a sorted set of keys scored by their expiry in Unix seconds.
# A key taken leaves it only if it had not expired by then (the taker's clock): a take that
# found nothing must not hide an expiry from the sweep.
_LEDGER_LEAVE = """
local deadline = redis.call('ZSCORE', KEYS[1], ARGV[1])
if deadline and tonumber(deadline) > tonumber(ARGV[2]) then redis.call('ZREM', KEYS[1], ARGV[1]) end
"""
_LEDGER_SWEEP = """
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
if #expired > 0 then redis.call('ZREM', KEYS[1], unpack(expired)) end
return #expired
"""


async def _all(*calls: Awaitable[Any]) -> list[Any]:
    """Every call's answer once all have ended; the first failure is raised only then, so no
    call is left running against a client its caller may close next."""
    answers = await asyncio.gather(*calls, return_exceptions=True)
    for answer in answers:
        if isinstance(answer, BaseException):
            raise answer
    return list(answers)


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
        self._leave = client.register_script(_LEDGER_LEAVE)
        self._sweep = client.register_script(_LEDGER_SWEEP)
        self._add_get = client.register_script(_ADD_AND_GET)
        self._turns = asyncio.Semaphore(IN_FLIGHT)

    @classmethod
    def from_url(cls, url: str, prefix: str = "yht:") -> RedisStore:
        client, closers = connect(url)
        return cls(client, prefix, closers)

    def _k(self, key: str) -> str:
        return self._prefix + key

    def key(self, name: str) -> str:
        """``name`` under this store's prefix, as Redis sees it (a channel's, too)."""
        return self._k(name)

    def pubsub(self) -> Any:
        """A new redis-py ``PubSub`` on this store's server (one connection of its own)."""
        return self._redis.pubsub()

    async def publish(self, channel: str, message: bytes) -> None:
        await self._call("publish", self._k(channel), message)

    async def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        await self._turns.acquire()
        try:
            return await getattr(self._redis, method)(*args, **kwargs)
        except _FAILURES as error:
            raise ExpiringStoreError(f"redis {method} failed: {type(error).__name__}") from error
        finally:
            self._turns.release()

    async def _script(self, name: str, script: Any, key: str, *args: Any) -> Any:
        await self._turns.acquire()
        try:
            return await script(keys=[self._k(key)], args=list(args))
        except _FAILURES as error:
            raise ExpiringStoreError(f"redis {name} failed: {type(error).__name__}") from error
        finally:
            self._turns.release()

    async def _pipelined(self, name: str, queue: Callable[[Any], Awaitable[None]]) -> list[Any]:
        """One pipeline without MULTI: ``queue`` adds its commands, then one round trip."""
        await self._turns.acquire()
        try:
            async with self._redis.pipeline(transaction=False) as pipeline:
                await queue(pipeline)
                return list(await pipeline.execute())
        except _FAILURES as error:
            raise ExpiringStoreError(f"redis {name} failed: {type(error).__name__}") from error
        finally:
            self._turns.release()

    async def get(self, key: str) -> bytes | None:
        return await self._call("get", self._k(key))

    async def _with_ledger(self, name: str, command: Sent, ledger: Sent) -> Any:
        """``command`` and then ``ledger`` (each called with the client to send through) in one
        pipeline, or concurrently on a cluster (its pipelines take no scripts); ``command``'s
        result."""
        try:
            if isinstance(self._redis, RedisCluster):
                return (await _all(command(self._redis), ledger(self._redis)))[0]
            async with self._turns, self._redis.pipeline(transaction=False) as pipeline:
                await command(pipeline)
                await ledger(pipeline)
                answers = await pipeline.execute(raise_on_error=False)
            for i, step in enumerate((command, ledger)):
                if isinstance(answers[i], NoScriptError):  # lost (a restart): again, loaded
                    answers[i] = await step(self._redis)
                elif isinstance(answers[i], Exception):
                    raise answers[i]
            return answers[0]
        except _FAILURES as error:
            raise ExpiringStoreError(f"redis {name} failed: {type(error).__name__}") from error

    def _scripted(self, script: Any, keys: list[str], args: list[Any]) -> Sent:
        # By EVALSHA in a pipeline: one that holds registered scripts asks SCRIPT EXISTS first,
        # one more round trip each time. Alone, the script loads itself when the server lost it.
        async def send(client: Any) -> Any:
            if client is self._redis:
                return await script(keys=keys, args=args)
            return await client.evalsha(script.sha, len(keys), *keys, *args)

        return send

    def _entering(self, ledger: str, key: str, ttl: float) -> Sent:
        async def enter(client: Any) -> Any:
            return await client.zadd(self._k(ledger), {self._k(key): time.time() + ttl})

        return enter

    def _leaving(self, ledger: str, key: str) -> Sent:
        return self._scripted(self._leave, [self._k(ledger)], [self._k(key), time.time()])

    async def issue(
        self, key: str, owner: str, value: bytes, ttl: float, ledger: str | None = None
    ) -> None:
        await self.put(key, owner.encode() + SEPARATOR + value, ttl, ledger)

    async def redeem(
        self, key: str, owner: str, spent_ttl: float, ledger: str | None = None
    ) -> Redemption:
        args = [owner, _ms(spent_ttl), SEPARATOR, SPENT, SPENT_AGAIN]
        if ledger is None:
            found = await self._script("redeem", self._redeem, key, *args)
        else:
            redeem = self._scripted(self._redeem, [self._k(key)], args)
            found = await self._with_ledger("redeem", redeem, self._leaving(ledger, key))
        outcome = found[0].decode()
        value = found[1] if len(found) > 1 and found[1] else None
        left = found[2] / 1000 if len(found) > 2 and found[2] > 0 else None
        if outcome == "foreign" and ledger is not None and left is not None:
            await self._enter_alone(ledger, key, left)  # still live: back in the ledger
        return Redemption(outcome, value, left)  # type: ignore[arg-type]

    async def _enter_alone(self, ledger: str, key: str, ttl: float) -> None:
        try:
            await self._entering(ledger, key, ttl)(self._redis)
        except _FAILURES as error:
            raise ExpiringStoreError(f"redis zadd failed: {type(error).__name__}") from error

    async def release(
        self, key: str, owner: str, value: bytes, ttl: float, ledger: str | None = None
    ) -> bool:
        restored = owner.encode() + SEPARATOR + value
        put_back = await self._script("release", self._release, key, restored, _ms(ttl), UNSETTLED)
        if put_back and ledger is not None:
            await self._enter_alone(ledger, key, ttl)  # rare: a failed exchange
        return bool(put_back)

    async def settle(self, key: str, marker: bytes, spent_ttl: float) -> bool:
        flagged = await self._script(
            "settle", self._settle, key, marker, _ms(spent_ttl), SPENT, SPENT_AGAIN
        )
        return bool(flagged)

    async def leave_ledger(self, ledger: str, key: str) -> None:
        await self._call("zrem", self._k(ledger), self._k(key))

    async def sweep_ledger(self, ledger: str, grace: float, limit: int) -> int:
        cutoff = time.time() - grace
        return int(await self._script("sweep", self._sweep, ledger, cutoff, limit))

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

    async def put(
        self,
        key: str,
        value: bytes,
        ttl: float,
        ledger: str | None = None,
        ledger_ttl: float | None = None,
    ) -> None:
        if ledger is None:
            await self._call("set", self._k(key), value, px=_ms(ttl))
            return

        async def write(client: Any) -> Any:
            return await client.set(self._k(key), value, px=_ms(ttl))

        if ledger_ttl is not None:
            check_ttl(ledger_ttl)
        entering = self._entering(ledger, key, ttl if ledger_ttl is None else ledger_ttl)
        await self._with_ledger("set", write, entering)

    async def put_many(self, *entries: tuple[str, bytes, float]) -> None:
        # A pipeline without MULTI: one round trip for plain SETs (a cluster client sends one
        # per node, concurrently), each SET atomic alone, as the protocol promises.
        if not entries:
            return
        ttls = [_ms(ttl) for _, _, ttl in entries]

        async def sets(pipeline: Any) -> None:
            for (key, value, _), ttl in zip(entries, ttls, strict=True):
                pipeline.set(self._k(key), value, px=ttl)

        await self._pipelined("set", sets)

    async def add(self, key: str, value: bytes, ttl: float) -> bool:
        return bool(await self._call("set", self._k(key), value, px=_ms(ttl), nx=True))

    async def add_and_get(
        self, key: str, value: bytes, ttl: float, *keys: str
    ) -> tuple[bool, list[bytes | None]]:
        names = [self._k(name) for name in keys]
        try:
            if not isinstance(self._redis, RedisCluster):
                async with self._turns:
                    added, read = await self._add_get(
                        keys=[self._k(key), *names], args=[value, _ms(ttl)]
                    )
                return bool(added), list(read)
            # A cluster's keys may live in different slots: SET NX and a GET each, pipelined.
            async with self._turns, self._redis.pipeline(transaction=False) as pipeline:
                pipeline.set(self._k(key), value, px=_ms(ttl), nx=True)
                for name in names:
                    pipeline.get(name)
                added, *read = await pipeline.execute()
        except _FAILURES as error:
            raise ExpiringStoreError(f"redis add_and_get failed: {type(error).__name__}") from error
        return bool(added), list(read)

    async def replace(self, key: str, value: bytes, ttl: float) -> bool:
        return bool(await self._call("set", self._k(key), value, px=_ms(ttl), xx=True))

    async def take(self, key: str, ledger: str | None = None) -> bytes | None:
        if ledger is None:
            return await self._call("getdel", self._k(key))

        async def take(client: Any) -> Any:
            return await client.getdel(self._k(key))

        return await self._with_ledger("getdel", take, self._leaving(ledger, key))

    async def delete(self, key: str) -> bool:
        return bool(await self._call("delete", self._k(key)))

    async def incr(self, key: str, ttl: float, amount: int = 1) -> int:
        return int(await self._script("incr", self._incr, key, amount, _ms(ttl)))

    async def incr_many(self, *counters: tuple[str, float, int]) -> list[int]:
        steps = (Step("incr", (key, ttl, amount)) for key, ttl, amount in counters)
        return [int(value) for value in await self.many(*steps)]  # type: ignore[call-overload]

    async def many(self, *steps: Step) -> list[object]:
        # One pipeline without MULTI (each step atomic alone); a cluster's keys live in
        # different slots, so there each step is its own call: concurrent unless keys repeat.
        if isinstance(self._redis, RedisCluster):
            if len({step.args[0] for step in steps}) == len(steps):
                return await _all(*(self._step(step) for step in steps))
            return [await self._step(step) for step in steps]
        if not steps:
            return []
        try:
            answers = await self._step_pipeline(steps)
            missing = [i for i, answer in enumerate(answers) if isinstance(answer, NoScriptError)]
            if missing:  # the server lost our scripts (a restart): load them, run those again
                for script in {
                    self._incr if steps[i].method == "incr" else self._sadd for i in missing
                }:
                    await self._redis.script_load(script.script)
                again = await self._step_pipeline([steps[i] for i in missing])
                for i, answer in zip(missing, again, strict=True):
                    answers[i] = answer
        except _FAILURES as error:
            raise ExpiringStoreError(f"redis pipeline failed: {type(error).__name__}") from error
        for answer in answers:
            if isinstance(answer, Exception):
                raise ExpiringStoreError(f"redis pipeline failed: {type(answer).__name__}")
        return [_result(step, answer) for step, answer in zip(steps, answers, strict=True)]

    def _step(self, step: Step) -> Awaitable[Any]:
        return getattr(self, step.method)(*step.args)  # type: ignore[no-any-return]

    async def _step_pipeline(self, steps: list[Step] | tuple[Step, ...]) -> list[Any]:
        # Scripts by EVALSHA: a pipeline that registers them first asks SCRIPT EXISTS, one
        # more round trip each time.
        async with self._turns, self._redis.pipeline(transaction=False) as pipeline:
            for step in steps:
                key, *args = step.args
                name = self._k(str(key))
                if step.method == "get":
                    pipeline.get(name)
                elif step.method == "put":
                    pipeline.set(name, args[0], px=_ms(float(args[1])))  # type: ignore[arg-type]
                elif step.method == "delete":
                    pipeline.delete(name)
                elif step.method == "incr":
                    ttl, amount = args[0], args[1] if len(args) > 1 else 1
                    pipeline.evalsha(self._incr.sha, 1, name, amount, _ms(float(ttl)))  # type: ignore[arg-type]
                elif step.method == "set_add":
                    pipeline.evalsha(self._sadd.sha, 1, name, args[0], _ms(float(args[1])))  # type: ignore[arg-type]
                else:
                    raise ValueError(f"no such step: {step.method!r}")
            return list(await pipeline.execute(raise_on_error=False))

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


def _result(step: Step, answer: Any) -> object:
    """A pipelined answer as the step's own method returns it."""
    if step.method == "incr":
        return int(answer)
    if step.method == "delete":
        return bool(answer)
    return answer if step.method == "get" else None
