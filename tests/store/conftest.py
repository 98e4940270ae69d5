"""The expiring-store conformance suite runs against every deployment of the store: in-process
memory, one Redis server, a local Redis Cluster and a Sentinel-watched Redis."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest

from store.kv import ExpiringStore
from store.memory import MemoryStore
from tests.conftest import SCAN_COUNT

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
    from store.redis_kv import RedisStore, connect

    prefix = f"yht-test:{secrets.token_hex(6)}:"
    url = request.getfixturevalue(_URL_FIXTURES[request.param])
    store = RedisStore.from_url(url, prefix)
    try:
        yield store
    finally:
        await store.close()
        client, closers = connect(url)
        # On a cluster scan_iter visits every master; keys are deleted one by one since they
        # live in different slots. COUNT: the shared server holds everyone's keys.
        for key in [key async for key in client.scan_iter(match=prefix + "*", count=SCAN_COUNT)]:
            await client.delete(key)
        for close in closers:
            await close()
