"""Structured logs: one JSON object a line, never a secret, a token or unmasked PII.

Request lines carry the method, the path without its query string, the status, the duration and
a request id; query strings and bodies are never logged because they carry codes and secrets."""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{8,64}$")
access_log = logging.getLogger("yihaotong.access")
_ENCODER = json.JSONEncoder(ensure_ascii=False)  # json.dumps would build one for every line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if fields:
            entry.update(fields)
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = record.exc_info[0].__name__
            entry["traceback"] = self.formatException(record.exc_info)
        return _ENCODER.encode(entry)


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # What the formatter never writes is not gathered for every line either (the logging
    # HOWTO's "Optimization"): the caller's frame (a walk up the stack), thread, process and
    # task names. Two lines a token request; this is a fifth of their cost.
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging.logAsyncioTasks = False  # Python 3.12+; unused before
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("alembic").setLevel(logging.WARNING)  # migration chatter at every start
    # uvicorn's access log prints query strings (codes, states); ours does not.
    logging.getLogger("uvicorn.access").disabled = True


SECURITY_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]


def request_id_for(scope: Scope) -> str:
    """The caller's ``X-Request-ID`` when well-formed, else a new one; kept in the scope's state."""
    incoming = b""
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            incoming = value
            break
    text = incoming.decode("latin-1")
    request_id = text if _REQUEST_ID.match(text) else secrets.token_hex(8)
    scope.setdefault("state", {})["request_id"] = request_id
    return request_id


def log_request(scope: Scope, request_id: str, status: int, started: float) -> None:
    if access_log.isEnabledFor(logging.INFO):
        access_log.info(
            "request",
            extra={
                "fields": {
                    "request_id": request_id,
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "ms": round((time.perf_counter() - started) * 1000, 2),
                }
            },
        )


class RequestLogMiddleware:
    """Assigns each request an id (kept from ``X-Request-ID`` when well-formed), echoes it in the
    response, and writes one access line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_for(scope)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                headers.extend(SECURITY_HEADERS)
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            log_request(scope, request_id, status, started)
