"""The HTTP protocol ``yihaotong serve`` runs: uvicorn's httptools protocol, with writes held to
the end of the loop's turn (``held_writes.py``), that answers GET and HEAD of the public
documents (discovery, JWKS) itself, as soon as the request's headers are parsed.

Every relying party and resource server polls those documents, and they change only at a key
rotation or a restart. The ASGI way costs each of them a task, a request-response cycle and the
messages between them; here the answer is the document's header lines and body (built once per
version, ``PublicDocument``) with the date, the request id and the access line added. A request
takes the ASGI way whenever this answer could come out of order or out of step: a response still
being written on the connection (a request pipelined behind a slower one), a client that is not
reading (writing paused), an upgrade, a root path set by a proxy, an app not started yet.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httptools

from gateway.discovery import PublicDocument, header_value
from gateway.held_writes import HeldWritesProtocol
from gateway.logs import log_request, request_id_for

DocumentFinder = Callable[[str], PublicDocument | None]

WELL_KNOWN = b"/.well-known/"  # where every public document lives
STATUS_LINES = {200: b"HTTP/1.1 200 OK\r\n", 304: b"HTTP/1.1 304 Not Modified\r\n"}


def document_finder(app: Any) -> DocumentFinder | None:
    """The gateway's ``public_document``, found under the middleware uvicorn wraps it in."""
    for _ in range(8):
        finder = getattr(app, "public_document", None)
        if callable(finder):
            return finder  # type: ignore[no-any-return]
        app = getattr(app, "app", None)
        if app is None:
            break
    return None


class GatewayProtocol(HeldWritesProtocol):
    """``uvicorn.run(http=GatewayProtocol)``: see the module's docstring."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._documents = document_finder(self.app)
        self._answered = False  # the current request was answered here: no ASGI cycle has it

    def on_message_begin(self) -> None:
        # A request has begun, so the connection is not idle: the keep-alive timer an answer
        # here armed, earlier in the same data, must not close it under this request.
        self._unset_keepalive_if_required()
        self._answered = False
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        if self._documents is not None and self.url.startswith(WELL_KNOWN):
            self._answered = self._answer_document(self._documents)
            if self._answered:
                return
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._answered:  # a GET's body, if any, has nobody to read it
            super().on_body(body)

    def on_message_complete(self) -> None:
        if not self._answered:
            super().on_message_complete()

    def _answer_document(self, documents: DocumentFinder) -> bool:
        """Write the document's answer; False (nothing written) when the ASGI way must take it."""
        method = self.parser.get_method()
        if method not in (b"GET", b"HEAD") or self.root_path or self.parser.should_upgrade():
            return False
        in_flight = self.cycle is not None and not self.cycle.response_complete
        if in_flight or self.pipeline or self.flow.write_paused or self.transport.is_closing():
            return False
        path = httptools.parse_url(self.url).path.decode("ascii")
        document = documents(path)
        if document is None:
            return False

        started = time.perf_counter()
        scope = self.scope
        scope["method"] = method.decode("ascii")
        scope["path"] = path
        http_version = self.parser.get_http_version()
        keep_alive = http_version != "1.0" and self.parser.should_keep_alive()
        request_id = request_id_for(scope)
        status, header_lines, body = document.header_lines(header_value(scope, b"if-none-match"))
        parts = [STATUS_LINES[status]]
        for name, value in self.server_state.default_headers:
            parts += [name, b": ", value, b"\r\n"]
        parts += [header_lines, b"x-request-id: ", request_id.encode(), b"\r\n"]
        if not keep_alive:
            parts.append(b"connection: close\r\n")
        parts.append(b"\r\n")
        if method == b"GET":
            parts.append(body)
        self.transport.write(b"".join(parts))
        if not keep_alive:
            self.transport.close()
        log_request(scope, request_id, status, started)
        # As after any response: count it, and arm the keep-alive timer (an idle connection is
        # closed when it runs out).
        self.on_response_complete()
        return True
