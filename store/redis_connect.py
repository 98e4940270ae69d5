"""Redis clients from one URL: a single node, Sentinel, or Redis Cluster, each with the pool
limit and timeouts the expiring store expects (docs/scaling.md, "The Redis URL")."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, unquote

import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import NoBackoff

Closer = Callable[[], Awaitable[None]]
_TIMEOUTS: dict[str, Any] = {"socket_timeout": 5, "socket_connect_timeout": 5}
# Commands in flight at once per process; a burst beyond it queues in the store (each one in
# flight ends within the socket timeout, so the queue moves). redis-py's pools raise
# MaxConnectionsError past their cap instead of waiting; the cap leaves room for subscriptions.
IN_FLIGHT = 64
POOL_CONNECTIONS = 4 * IN_FLIGHT


def connect(url: str) -> tuple[Any, tuple[Closer, ...]]:
    """A client for ``url`` and what closes it: ``redis://``, ``rediss://`` or ``unix://`` (one
    server, redis-py's own URL), ``redis+cluster://`` or ``redis+sentinel://`` (each also with
    ``rediss+``). The formats are in docs/scaling.md, "The Redis URL"."""
    scheme, _, rest = url.partition("://")
    if scheme in ("redis+cluster", "rediss+cluster"):
        return _cluster(rest, tls=scheme.startswith("rediss"))
    if scheme in ("redis+sentinel", "rediss+sentinel"):
        return _sentinel(rest, tls=scheme.startswith("rediss"))
    client = aioredis.Redis.from_url(
        url, health_check_interval=30, max_connections=POOL_CONNECTIONS, **_TIMEOUTS
    )
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
        max_connections=POOL_CONNECTIONS,  # a node's; a multi-slot MGET takes one a slot
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
        service,
        db=int(db or 0),
        ssl=tls,
        health_check_interval=30,
        max_connections=POOL_CONNECTIONS,
        **credentials,
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
