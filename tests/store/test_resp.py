"""The lean single-server Redis client (store/resp.py): one pipelined connection, each reply to
its own caller, failures that fail what was in flight and never resend it."""

from __future__ import annotations

import asyncio
import secrets
import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis
from redis.exceptions import AuthenticationError, ConnectionError, ResponseError, TimeoutError

from store.kv import ExpiringStoreError
from store.redis_kv import RedisStore
from store.resp import RespClient
from tests.redis_cluster import _cli, _redis_server, require_redis_binaries
from tests.support import free_port


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[RespClient]:
    lean = RespClient.from_url(redis_url)
    yield lean
    await lean.aclose()


@pytest.fixture
def prefix() -> str:
    return f"yht-test:{secrets.token_hex(6)}:"


async def test_concurrent_callers_share_one_connection_and_get_their_own_replies(
    client: RespClient, prefix: str
) -> None:
    names = [f"{prefix}{n}" for n in range(300)]
    await asyncio.gather(*(client.set(name, name.encode(), px=30_000) for name in names))
    replies = await asyncio.gather(*(client.get(name) for name in names))
    connection_ids = await asyncio.gather(*(client.execute("CLIENT", "ID") for _ in range(20)))
    await client.delete(*names)
    assert replies == [name.encode() for name in names]
    assert len(set(connection_ids)) == 1


async def test_a_cancelled_callers_reply_does_not_reach_the_next_caller(
    client: RespClient, prefix: str
) -> None:
    await client.set(prefix + "a", b"first", px=30_000)
    await client.set(prefix + "b", b"second", px=30_000)
    abandoned = asyncio.create_task(client.get(prefix + "a"))
    await asyncio.sleep(0)  # the command is written; its caller gives up before the reply
    abandoned.cancel()
    assert await client.get(prefix + "b") == b"second"
    assert abandoned.cancelled()
    await client.delete(prefix + "a", prefix + "b")


async def test_a_killed_connection_fails_what_was_in_flight_then_connects_again(
    client: RespClient, redis_url: str, prefix: str
) -> None:
    first_id = await client.execute("CLIENT", "ID")
    async with Redis.from_url(redis_url) as other:
        await other.execute_command("CLIENT", "KILL", "ID", first_id)
    await asyncio.sleep(0.1)  # the end of the connection is heard
    await client.set(prefix + "k", b"v", px=30_000)
    assert await client.get(prefix + "k") == b"v"
    assert await client.execute("CLIENT", "ID") != first_id
    await client.delete(prefix + "k")


async def test_a_reply_not_back_in_time_fails_and_the_next_command_reconnects(
    redis_url: str, prefix: str
) -> None:
    lean = RespClient.from_url(redis_url, timeout=0.3)
    first_id = await lean.execute("CLIENT", "ID")
    async with Redis.from_url(redis_url) as other:
        # Redis holds every client's commands for 1 s (a real stall, not a fake one).
        await other.execute_command("CLIENT", "PAUSE", 1000, "ALL")
        try:
            failures = await asyncio.gather(
                lean.get(prefix + "k"), lean.get(prefix + "j"), return_exceptions=True
            )
        finally:
            await other.execute_command("CLIENT", "UNPAUSE")
    assert all(isinstance(failure, TimeoutError) for failure in failures), failures
    assert failures[0] is not failures[1]  # each caller's own, with its own traceback
    assert await lean.get(prefix + "k") is None
    assert await lean.execute("CLIENT", "ID") != first_id
    await lean.aclose()


async def test_scripts_are_sent_again_when_the_server_forgot_them(
    client: RespClient, prefix: str
) -> None:
    script = client.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
    assert await script(keys=[prefix + "n"], args=[2]) == 2
    await client.execute("SCRIPT", "FLUSH")
    assert await script(keys=[prefix + "n"], args=[3]) == 5
    with pytest.raises(ResponseError):
        await client.register_script("return redis.call('NOPE')")(keys=[], args=[])
    await client.delete(prefix + "n")


async def test_the_database_in_the_url_is_selected(redis_url: str, prefix: str) -> None:
    base = redis_url.rsplit("/", 1)[0]
    lean = RespClient.from_url(f"{base}/9")
    await lean.set(prefix + "k", b"in nine", px=30_000)
    async with Redis.from_url(f"{base}/9") as nine, Redis.from_url(f"{base}/8") as eight:
        assert await nine.get(prefix + "k") == b"in nine"
        assert await eight.get(prefix + "k") is None
        await nine.delete(prefix + "k")
    await lean.aclose()


@pytest.fixture
def server_with_password(tmp_path: Path):
    require_redis_binaries()
    port = free_port()
    server = _redis_server(tmp_path, port, "--requirepass", "s3cret-pass")
    try:
        yield port, server
    finally:
        server.stop()


async def test_credentials_are_sent_and_a_refusal_is_clear(server_with_password) -> None:
    port, _ = server_with_password
    good = RespClient.from_url(f"redis://:s3cret-pass@127.0.0.1:{port}/1")
    assert await good.ping()
    await good.aclose()
    wrong = RespClient.from_url(f"redis://:wrong@127.0.0.1:{port}/1")
    with pytest.raises(AuthenticationError) as refused:
        await wrong.ping()
    assert "wrong" not in str(refused.value)
    await wrong.aclose()


async def test_a_server_that_goes_away_is_a_store_error_until_it_is_back(
    server_with_password, tmp_path: Path
) -> None:
    port, server = server_with_password
    store = RedisStore.from_url(f"redis://:s3cret-pass@127.0.0.1:{port}/0")
    await store.put("k", b"v", 30)
    server.stop()
    with pytest.raises(ExpiringStoreError):
        await store.get("k")
    with pytest.raises(ExpiringStoreError):
        await store.incr("n", 30)
    again = _redis_server(tmp_path, port, "--requirepass", "s3cret-pass")
    try:
        assert await store.get("k") is None  # a new server, empty: but reachable again
        assert await store.incr("n", 30) == 1
    finally:
        await store.close()
        again.stop()


def test_urls_with_options_it_does_not_take_are_refused() -> None:
    with pytest.raises(ValueError, match="socket_timeout"):
        RespClient.from_url("redis://127.0.0.1:6379/0?socket_timeout=1")


async def test_an_unreachable_server_is_a_connection_error() -> None:
    lean = RespClient.from_url(f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(ConnectionError):
        await lean.get("k")
    await lean.aclose()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A listener whose queue is full: the kernel drops further connection attempts, so a
    connect to this port neither succeeds nor fails until the client gives up."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(0)
    port = silent.getsockname()[1]
    queued = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        queued.append(filler)
    yield port
    for sock in [*queued, silent]:
        sock.close()


async def test_callers_arriving_while_the_server_is_silent_wait_one_connect_timeout(
    silent_port: int,
) -> None:
    lean = RespClient("127.0.0.1", silent_port, connect_timeout=0.5)
    started = time.monotonic()
    try:
        outcomes = await asyncio.gather(*(lean.get("k") for _ in range(10)), return_exceptions=True)
    finally:
        elapsed = time.monotonic() - started
        await lean.aclose()
    assert all(isinstance(outcome, TimeoutError) for outcome in outcomes)
    # One attempt for all ten: one connect timeout, where an attempt each would take ten.
    assert elapsed < 2.5


async def test_closing_the_client_while_it_connects_fails_the_callers_cleanly(
    silent_port: int,
) -> None:
    lean = RespClient("127.0.0.1", silent_port, connect_timeout=5)
    callers = [asyncio.create_task(lean.get("k")) for _ in range(3)]
    await asyncio.sleep(0.1)
    await lean.aclose()
    outcomes = await asyncio.gather(*callers, return_exceptions=True)
    # A store error for each (a 503 for its request), not a cancelled request.
    assert all(isinstance(outcome, ConnectionError) for outcome in outcomes)
    with pytest.raises(ConnectionError):
        await lean.get("k")


async def test_a_user_named_without_a_password_signs_in_as_that_user(tmp_path: Path) -> None:
    require_redis_binaries()
    port = free_port()
    server = _redis_server(tmp_path, port)
    try:
        _cli(port, "ACL", "SETUSER", "gateway", "on", "nopass", "~*", "+@all")
        _cli(port, "ACL", "SETUSER", "default", "off")
        lean = RespClient.from_url(f"redis://gateway@127.0.0.1:{port}/0")
        assert await lean.execute("ACL", "WHOAMI") == b"gateway"
        await lean.aclose()
    finally:
        server.stop()


def test_tls_urls_are_left_to_redis_py() -> None:
    with pytest.raises(ValueError, match="no TLS"):
        RespClient.from_url("rediss://127.0.0.1:6379/0")
