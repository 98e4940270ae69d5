"""uvicorn's HTTP protocol with writes held to the end of the loop's turn: what a client reads is
what the application sent, in order, whole, and a connection's writes of one turn leave in one
call on its socket."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from gateway.held_writes import HOLD_LIMIT, HeldWritesProtocol, HeldWritesTransport
from tests.conftest import free_port

CHUNK = 16 * 1024
STREAMED_CHUNKS = 3 * HOLD_LIMIT // CHUNK + 5


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Echoes the path; ``/stream`` sends a body of many chunks without waiting between them."""
    if scope["type"] != "http":
        return
    body = scope["path"].encode()
    if scope["path"] == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for n in range(STREAMED_CHUNKS):
            await send(
                {"type": "http.response.body", "body": bytes([n % 251]) * CHUNK, "more_body": True}
            )
        await send({"type": "http.response.body", "body": b""})
        return
    headers = [(b"content-length", str(len(body)).encode()), (b"content-type", b"text/plain")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture
def server_port() -> Iterator[int]:
    port = free_port()
    config = uvicorn.Config(
        _app, host="127.0.0.1", port=port, http=HeldWritesProtocol, log_config=None, lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    yield port
    server.should_exit = True
    thread.join(timeout=10)


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _request(path: str, close: bool = False) -> bytes:
    connection = b"close" if close else b"keep-alive"
    return (
        b"GET " + path.encode() + b" HTTP/1.1\r\nHost: t\r\nConnection: " + connection + b"\r\n\r\n"
    )


def _bodies(raw: bytes) -> list[bytes]:
    """The bodies of consecutive Content-Length responses."""
    bodies = []
    while raw:
        head, _, rest = raw.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 "), head
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        bodies.append(rest[:length])
        raw = rest[length:]
    return bodies


def test_pipelined_requests_are_answered_whole_and_in_order(server_port: int) -> None:
    paths = [f"/{n}-{'x' * n}" for n in range(1, 9)]
    with socket.create_connection(("127.0.0.1", server_port), timeout=10) as sock:
        sock.sendall(b"".join(_request(path, close=path == paths[-1]) for path in paths))
        raw = _read_all(sock)
    assert _bodies(raw) == [path.encode() for path in paths]


def test_a_body_streamed_past_the_hold_limit_arrives_whole(server_port: int) -> None:
    with socket.create_connection(("127.0.0.1", server_port), timeout=10) as sock:
        sock.sendall(_request("/stream", close=True))
        raw = _read_all(sock)
    head, _, chunked = raw.partition(b"\r\n\r\n")
    assert b"transfer-encoding: chunked" in head.lower()
    body, rest = bytearray(), chunked
    while True:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        body += rest[:size]
        rest = rest[size + 2 :]
    assert bytes(body) == b"".join(bytes([n % 251]) * CHUNK for n in range(STREAMED_CHUNKS))


class _Received(asyncio.Protocol):
    def __init__(self) -> None:
        self.data = bytearray()
        self.closed = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        self.data += data

    def eof_received(self) -> None:
        if not self.closed.done():
            self.closed.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


async def _connected_pair() -> tuple[asyncio.AbstractServer, asyncio.Transport, _Received]:
    """A real TCP connection: our side's transport and what the other side received."""
    loop = asyncio.get_running_loop()
    received: list[_Received] = []

    def accept() -> _Received:
        received.append(_Received())
        return received[0]

    server = await loop.create_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    transport, _ = await loop.create_connection(asyncio.Protocol, "127.0.0.1", port)
    while not received:
        await asyncio.sleep(0)
    return server, transport, received[0]


async def test_writes_of_one_turn_leave_in_one_call_after_it() -> None:
    server, transport, peer = await _connected_pair()
    calls: list[bytes] = []
    real_write = transport.write

    def counted(data: bytes) -> None:
        calls.append(bytes(data))
        real_write(data)

    transport.write = counted  # type: ignore[method-assign]
    held = HeldWritesTransport(transport, asyncio.get_running_loop())
    held.write(b"HTTP/1.1 200 OK\r\n\r\n")
    held.write(b"")
    held.write(b"body")
    assert calls == []  # nothing during the turn
    assert held.get_write_buffer_size() == len(b"HTTP/1.1 200 OK\r\n\r\nbody")
    await asyncio.sleep(0)
    assert calls == [b"HTTP/1.1 200 OK\r\n\r\nbody"]
    held.write(b"next")
    held.close()  # what is held goes before the close
    await asyncio.wait_for(peer.closed, 5)
    assert bytes(peer.data) == b"HTTP/1.1 200 OK\r\n\r\nbodynext"
    assert calls[-1] == b"next"
    server.close()


async def test_a_write_past_the_limit_is_not_held() -> None:
    server, transport, peer = await _connected_pair()
    held = HeldWritesTransport(transport, asyncio.get_running_loop())
    held.write(b"a" * (HOLD_LIMIT - 1))
    assert held.get_write_buffer_size() >= HOLD_LIMIT - 1
    held.write(b"b")
    assert held.get_write_buffer_size() == transport.get_write_buffer_size()
    held.close()
    await asyncio.wait_for(peer.closed, 5)
    assert bytes(peer.data) == b"a" * (HOLD_LIMIT - 1) + b"b"
    server.close()


async def test_held_writes_of_a_connection_gone_meanwhile_are_dropped_quietly() -> None:
    loop = asyncio.get_running_loop()
    problems: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: problems.append(context))
    server, transport, peer = await _connected_pair()
    held = HeldWritesTransport(transport, loop)
    held.write(b"lost")
    transport.abort()
    await asyncio.sleep(0)
    await asyncio.wait_for(peer.closed, 5)
    assert held.is_closing()
    assert bytes(peer.data) == b""
    assert held.get_write_buffer_size() == 0
    assert problems == []
    server.close()
