"""The expiring-store conformance suite runs against every deployment of the store: in-process
memory, one Redis server, a local Redis Cluster and a Sentinel-watched Redis."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from store.kv import ExpiringStore
from store.memory import MemoryStore
from store.resp import RespClient

_URL_FIXTURES = {
    "redis": "redis_url",
    "redis-cluster": "redis_cluster_url",
    "redis-sentinel": "redis_sentinel_url",
}


@pytest.fixture(params=["memory", *_URL_FIXTURES])
async def expiring_store(request: pytest.FixtureRequest) -> AsyncIterator[ExpiringStore]:
    if request.param == "memory":
        yield MemoryStore()
        return
    from store.redis_kv import RedisStore

    prefix = f"yht-test:{secrets.token_hex(6)}:"
    url = request.getfixturevalue(_URL_FIXTURES[request.param])
    store = RedisStore.from_url(url, prefix)
    try:
        yield store
    finally:
        # The lean single-server client has no SCAN: clean up through redis-py.
        lean = isinstance(store._redis, RespClient)
        client = Redis.from_url(url) if lean else store._redis
        # On a cluster scan_iter visits every master; keys are deleted one by one since they
        # live in different slots.
        for key in [key async for key in client.scan_iter(match=prefix + "*")]:
            await client.delete(key)
        await store.close()
        if client is not store._redis:
            await client.aclose()
