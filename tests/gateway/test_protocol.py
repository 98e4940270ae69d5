"""The HTTP protocol answers the public documents itself. Over a real socket those answers keep
their place among the other requests of a connection, keep it alive or end it as asked, and a
client that does not read is not written to without bound."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest
import uvicorn

from gateway.app import create_app
from tests.conftest import _ThreadedServer, free_port

KEEP_ALIVE = 1  # seconds an idle connection stays open (uvicorn's default is 5)
JWKS = "/.well-known/jwks.json"
DISCOVERY = "/.well-known/openid-configuration"


@pytest.fixture
def gateway(settings_for) -> Iterator[tuple[int, uvicorn.Server]]:
    port = free_port()
    app = create_app(settings_for("embedded", issuer=f"http://127.0.0.1:{port}"))
    running = _ThreadedServer(app, port, timeout_keep_alive=KEEP_ALIVE)
    running.start()
    try:
        yield port, running.server
    finally:
        running.stop()


def _request(method: str, path: str, version: str = "1.1", headers: str = "") -> bytes:
    return f"{method} {path} HTTP/{version}\r\nHost: gateway\r\n{headers}\r\n".encode()


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.settimeout(10)
    return sock


class _Responses:
    """Reads consecutive HTTP/1.1 responses from a socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.buffer, self.at = sock, bytearray(), 0

    def _fill(self) -> None:
        chunk = self.sock.recv(1 << 20)
        assert chunk, "the connection closed early"
        del self.buffer[: self.at]  # what was read already; the rest is kept
        self.buffer += chunk
        self.at = 0

    def next(self, head_only: bool = False) -> tuple[int, dict[str, str], bytes]:
        while (end := self.buffer.find(b"\r\n\r\n", self.at)) < 0:
            self._fill()
        head = bytes(self.buffer[self.at : end])
        self.at = end + 4
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
        status = int(status_line.split()[1])
        length = 0 if head_only or status == 304 else int(headers["content-length"])
        while len(self.buffer) - self.at < length:
            self._fill()
        body = bytes(self.buffer[self.at : self.at + length])
        self.at += length
        return status, headers, body

    def closed(self) -> bool:
        """Whether the server ends the connection (waits up to the socket's timeout)."""
        try:
            return self.at == len(self.buffer) and self.sock.recv(1) == b""
        except TimeoutError:
            return False


def test_documents_pipelined_behind_a_slower_request_answer_in_order(gateway) -> None:
    port, _ = gateway
    with _connect(port) as sock:
        token = b"grant_type=client_credentials"
        sock.sendall(
            _request(
                "POST",
                "/oauth/token",
                headers="Content-Type: application/x-www-form-urlencoded\r\n"
                f"Content-Length: {len(token)}\r\n",
            )
            + token
            + _request("GET", JWKS)
            + _request("GET", "/healthz")
            + _request("GET", DISCOVERY, headers="X-Request-ID: pipelined-0123\r\n")
            + _request("HEAD", JWKS)
        )
        responses = _Responses(sock)
        refused = responses.next()
        jwks = responses.next()
        health = responses.next()
        discovery = responses.next()
        head = responses.next(head_only=True)
    assert refused[0] == 401 and json.loads(refused[2])["error"] == "invalid_client"
    assert jwks[0] == 200 and "keys" in json.loads(jwks[2])
    assert health[0] == 200
    assert discovery[0] == 200 and json.loads(discovery[2])["jwks_uri"].endswith(JWKS)
    assert discovery[1]["x-request-id"] == "pipelined-0123"
    assert head[0] == 200 and int(head[1]["content-length"]) == len(jwks[2])
    assert head[1]["etag"] == jwks[1]["etag"]


@pytest.mark.parametrize(
    ("version", "headers"), [("1.0", ""), ("1.1", "Connection: close\r\n")], ids=["1.0", "close"]
)
def test_a_connection_asked_to_end_ends_after_the_document(gateway, version, headers) -> None:
    port, _ = gateway
    with _connect(port) as sock:
        sock.sendall(_request("GET", JWKS, version, headers))
        responses = _Responses(sock)
        status, answer_headers, body = responses.next()
        assert status == 200 and "keys" in json.loads(body)
        assert answer_headers["connection"] == "close"
        assert responses.closed()


def test_keep_alive_runs_from_the_last_answer(gateway) -> None:
    """Answered documents keep a connection open for the keep-alive time after the last of
    them (also when two arrive together), and an idle connection is then closed."""
    port, _ = gateway
    with _connect(port) as sock:
        responses = _Responses(sock)
        sock.sendall(_request("GET", JWKS) + _request("GET", DISCOVERY))
        assert [responses.next()[0], responses.next()[0]] == [200, 200]
        busy_until = time.monotonic() + 2.5 * KEEP_ALIVE
        answered = 0
        while time.monotonic() < busy_until:
            time.sleep(KEEP_ALIVE / 4)
            sock.sendall(_request("GET", JWKS))
            assert responses.next()[0] == 200
            answered += 1
        assert answered >= 8
        sock.settimeout(KEEP_ALIVE + 5)
        idle_from = time.monotonic()
        assert responses.closed()
        assert time.monotonic() - idle_from >= KEEP_ALIVE * 0.8


def test_a_client_that_does_not_read_is_not_written_to_without_bound(gateway) -> None:
    """Documents requested faster than they are read: once the connection's writing is paused
    the requests wait their turn, so what the server holds for it stays near the transport's
    limit instead of growing with every request; all are answered once the client reads, however
    long it waited."""
    port, server = gateway
    # Answers of ~1.2 kB each: about 24 MB, far past what the sockets' buffers take (a few MB).
    count = 20000
    pipeline = _request("GET", JWKS) * count
    with _connect(port) as sock:
        sock.setblocking(False)
        sent = 0
        until = time.monotonic() + 3
        while sent < len(pipeline) and time.monotonic() < until:
            try:
                sent += sock.send(pipeline[sent : sent + 65536])
            except BlockingIOError:
                time.sleep(0.01)
        # Longer than the keep-alive time: a connection whose requests wait is not idle.
        time.sleep(1.5 * KEEP_ALIVE)
        held = max(
            connection.transport.get_write_buffer_size()
            for connection in list(server.server_state.connections)
        )
        requested = sent // len(_request("GET", JWKS))
        assert requested > count / 2
        assert held < 1024 * 1024

        sock.setblocking(True)
        sock.settimeout(10)
        if sent < len(pipeline):
            sock.sendall(pipeline[sent:])
        responses = _Responses(sock)
        etags = {responses.next()[1]["etag"] for _ in range(count)}
    assert len(etags) == 1
