"""YIHAOTONG_REDIS_URL chooses the Redis deployment: one server, Sentinel or Cluster."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from store.kv import ExpiringStoreError
from store.redis_kv import RedisStore, connect
from tests.support import free_port


@pytest.mark.asyncio
async def test_the_scheme_picks_the_client() -> None:
    single, _ = connect("redis://127.0.0.1:6379/2")
    with_options, _ = connect("redis://127.0.0.1:6379/2?health_check_interval=7")
    tls, _ = connect("rediss://127.0.0.1:6379/0")
    unix, _ = connect("unix:///run/redis.sock?db=1")
    cluster, _ = connect("redis+cluster://user:p%40ss@10.0.0.1:7000,[::1]:7001,node-c")
    sentinel, close = connect("redis+sentinel://10.0.0.1,10.0.0.2:26380/yht/3?sentinel_password=s")
    try:
        assert type(single) is Redis
        assert single.connection_pool.connection_kwargs["db"] == 2
        assert single.connection_pool.connection_kwargs["socket_timeout"] == 5
        assert type(with_options) is Redis
        assert with_options.connection_pool.connection_kwargs["health_check_interval"] == 7
        assert type(tls) is Redis
        assert type(unix) is Redis
        assert unix.connection_pool.connection_kwargs["path"] == "/run/redis.sock"
        assert isinstance(cluster, RedisCluster)
        assert [(n.host, n.port) for n in cluster.nodes_manager.startup_nodes.values()] == [
            ("10.0.0.1", 7000),
            ("::1", 7001),
            ("node-c", 6379),
        ]
        assert cluster.connection_kwargs["password"] == "p@ss"
        assert cluster.connection_kwargs["username"] == "user"
        pool = sentinel.connection_pool
        assert pool.service_name == "yht" and pool.connection_kwargs["db"] == 3
        sentinels = pool.sentinel_manager.sentinels
        assert [s.connection_pool.connection_kwargs["port"] for s in sentinels] == [26379, 26380]
        assert sentinels[0].connection_pool.connection_kwargs["password"] == "s"
    finally:
        for client in (single, with_options, tls, unix):
            await client.aclose()
        await cluster.aclose()
        for closer in close:
            await closer()


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("redis+cluster://:secret@h:7000/1", "only database 0"),
        ("redis+cluster://:secret@h:port", "host:port"),
        ("redis+cluster://:secret@", "no host"),
        ("redis+cluster://:secret@h:7000?read_from_replicas=yes", "unknown options"),
        ("redis+sentinel://:secret@h:26379", "name the service"),
        ("redis+sentinel://:secret@h:26379/yht/zero", "a number"),
    ],
)
def test_bad_urls_are_explained_without_the_password(url: str, words: str) -> None:
    with pytest.raises(ValueError) as raised:
        connect(url)
    assert words in str(raised.value)
    assert "secret" not in str(raised.value)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "path", ["redis+cluster://127.0.0.1:{}", "redis+sentinel://127.0.0.1:{}/yht"]
)
async def test_unreachable_deployments_are_a_store_error(path: str) -> None:
    store = RedisStore.from_url(path.format(free_port()))
    try:
        with pytest.raises(ExpiringStoreError):
            await store.ping()
        with pytest.raises(ExpiringStoreError):
            await store.incr("k", 30)
    finally:
        await store.close()
