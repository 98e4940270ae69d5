"""Structured logs: one JSON object a line, never a secret, a token or unmasked PII.

Request lines carry the method, the path without its query string, the status, the duration and
a request id; query strings and bodies are never logged because they carry codes and secrets."""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{8,64}$")
access_log = logging.getLogger("yihaotong.access")
# Request ids correlate lines and audit entries; they authorise nothing, so they need to be
# unique, not unguessable: a generator seeded once from the OS, not a system call a request.
_request_ids = random.Random()  # noqa: S311


def _encode(entry: dict[str, Any]) -> str:
    """One line of JSON: UTF-8 as it is, compact; orjson takes a tenth of the CPU of the
    standard library's encoder for a request's line. A value it cannot encode raises
    TypeError, as json would."""
    return orjson.dumps(entry, option=orjson.OPT_NON_STR_KEYS).decode()


def _entry(
    created: float, level: int, logger: str, message: str, fields: dict[str, Any] | None
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "time": round(created, 3),
        "level": logging.getLevelName(level).lower(),
        "logger": logger,
        "message": message,
    }
    if fields:
        entry.update(fields)
    return entry


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = _entry(
            record.created,
            record.levelno,
            record.name,
            record.getMessage(),
            getattr(record, "fields", None),
        )
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = record.exc_info[0].__name__
            entry["traceback"] = self.formatException(record.exc_info)
        return _encode(entry)


class JsonLinesHandler(logging.StreamHandler):
    """The handler ``configure_logging`` installs. It can also write a line without a
    LogRecord (``log_line``): in a serving process the logging module's machinery around a
    line (the record, the logger and handler walks, the lock) costs more than the line.
    Such lines written on an event loop are gathered, then encoded and written together when
    the loop has run what was ready (one system call for all the requests answered meanwhile,
    and the encoder's code stays warm); a record logged the usual way, a flush and close write
    them first, so the order holds."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter())
        self._pending: list[dict[str, Any]] = []

    def write_entry(self, level: int, logger: str, message: str, fields: dict[str, Any]) -> None:
        entry = _entry(time.time(), level, logger, message, fields)
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        with self.lock:  # type: ignore[union-attr]
            self._pending.append(entry)
            if loop is None:
                self.flush()
            elif len(self._pending) == 1:
                loop.call_soon(self.flush)

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            if self._pending:
                entries, self._pending = self._pending, []
                lines = []
                for entry in entries:
                    try:
                        lines.append(_encode(entry))
                    except (TypeError, ValueError):  # a field JSON cannot hold: that line only
                        self.handleError(logging.makeLogRecord({"msg": entry["message"]}))
                try:
                    if lines:
                        self.stream.write(self.terminator.join(lines) + self.terminator)
                except Exception:
                    self.handleError(logging.makeLogRecord({"msg": f"{len(lines)} lines"}))
            super().flush()

    def emit(self, record: logging.LogRecord) -> None:
        if self._pending:
            self.flush()
        super().emit(record)


def _sole_handler(logger: logging.Logger) -> JsonLinesHandler | None:
    """The one handler a line of ``logger`` would reach, when that is our own handler without
    filters and the logger has none either; None for any other set-up (an operator's logging
    configuration, a test's capture), which then gets its records the usual way."""
    if logger.disabled or logger.filters:
        return None
    found: JsonLinesHandler | None = None
    current: logging.Logger | None = logger
    while current is not None:
        for handler in current.handlers:
            if found is not None or type(handler) is not JsonLinesHandler or handler.filters:
                return None
            found = handler
        if not current.propagate:
            break
        current = current.parent
    return found


def log_line(logger: logging.Logger, level: int, message: str, fields: dict[str, Any]) -> None:
    """``logger.log(level, message, extra={"fields": fields})``: the same line, written
    directly when it could only end in our own handler (for the lines of every request)."""
    if not logger.isEnabledFor(level):
        return
    handler = _sole_handler(logger)
    if handler is None or level < handler.level:
        logger.log(level, message, extra={"fields": fields})
    else:
        handler.write_entry(level, logger.name, message, fields)


def configure_logging(level: str) -> None:
    handler = JsonLinesHandler()
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # What the formatter never writes is not gathered for every record either (the logging
    # HOWTO's "Optimization"): the caller's frame (a walk up the stack), thread, process and
    # task names; a fifth of a record's cost. (The lines of every request skip records.)
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
    request_id = text if _REQUEST_ID.match(text) else f"{_request_ids.getrandbits(64):016x}"
    scope.setdefault("state", {})["request_id"] = request_id
    return request_id


def log_request(scope: Scope, request_id: str, status: int, started: float) -> None:
    if access_log.isEnabledFor(logging.INFO):
        fields = {
            "request_id": request_id,
            "method": scope["method"],
            "path": scope["path"],
            "status": status,
            "ms": round((time.perf_counter() - started) * 1000, 2),
        }
        log_line(access_log, logging.INFO, "request", fields)


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
