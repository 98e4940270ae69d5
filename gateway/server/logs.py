"""Structured logs: one JSON object a line, never a secret, a token or unmasked PII.

Request lines carry the method, the path without its query string, the status, the duration and
a request id; query strings and bodies are never logged because they carry codes and secrets.

Our busiest lines (``log_line``: the access line, the audit lines) take structlog's native path
once ``configure_logging`` ran: no stdlib record, one dict rendered by orjson. Every other record,
ours and the libraries', goes through stdlib logging and structlog's ``ProcessorFormatter`` into
the same JSON shape and the same stream."""

from __future__ import annotations

import logging
import random
import re
import sys
import time
from typing import Any, TextIO

import orjson
import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.server.request_metrics import observe_request, route_template

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{8,64}$")
access_log = logging.getLogger("yihaotong.access")
# Request ids correlate lines and audit entries; they authorise nothing, so they need to be
# unique, not unguessable: a generator seeded once from the OS, not a system call a request.
_request_ids = random.Random()  # noqa: S311
# log_line's writer once configure_logging ran (a serving process); before, stdlib logging.
_native: Any = None


def _line(
    logger: Any, method_name: str, event_dict: structlog.typing.EventDict
) -> structlog.typing.EventDict:
    """A standard LogRecord as the line's members: time, level, logger, message, then the
    ``fields`` given as ``extra={"fields": {...}}`` (a field may be called ``event``)."""
    record: logging.LogRecord = event_dict["_record"]
    line: dict[str, Any] = {
        "time": round(record.created, 3),
        "level": event_dict.pop("level", record.levelname.lower()),
        "logger": record.name,
        "message": event_dict.pop("event"),
    }
    fields = getattr(record, "fields", None)
    if fields:
        line.update(fields)
    if record.exc_info and record.exc_info[0] is not None:
        line["error"] = record.exc_info[0].__name__
    return {**event_dict, **line}


def _json(entry: dict[str, Any], **kwargs: Any) -> str:
    # UTF-8 as it is, compact; a value JSON cannot hold raises, and logging reports it.
    return orjson.dumps(entry, option=orjson.OPT_NON_STR_KEYS).decode()


def json_formatter() -> structlog.stdlib.ProcessorFormatter:
    """Every record, ours and the libraries', as one JSON object a line (structlog)."""
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_log_level, _line],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.ExceptionRenderer(),
            _rename_exception,
            structlog.processors.JSONRenderer(serializer=_json),
        ],
    )


def _rename_exception(
    logger: Any, method_name: str, event_dict: structlog.typing.EventDict
) -> structlog.typing.EventDict:
    if "exception" in event_dict:
        event_dict["traceback"] = event_dict.pop("exception")
    return event_dict


def log_line(logger: logging.Logger, level: int, message: str, fields: dict[str, Any]) -> None:
    """A line with its own members (``fields``), e.g. an audit entry or a request, when
    ``logger`` is enabled for ``level`` (stdlib levels decide on both paths)."""
    if not logger.isEnabledFor(level):
        return
    if _native is None:
        logger.log(level, message, extra={"fields": fields})
        return
    try:
        _native.log(level, message, logger=logger.name, fields=fields)
    except (TypeError, ValueError):
        # A value JSON cannot hold: the stdlib path reports it as it reports any bad record.
        logger.log(level, message, extra={"fields": fields})


def _native_line(
    logger: Any, method_name: str, event_dict: structlog.typing.EventDict
) -> structlog.typing.EventDict:
    """The members a stdlib record's line has (``_line``), from log_line's arguments."""
    line = {
        "time": round(time.time(), 3),
        "level": method_name,
        "logger": event_dict["logger"],
        "message": event_dict["event"],
    }
    line.update(event_dict["fields"])
    return line


def configure_logging(level: str, stream: TextIO | None = None) -> None:
    """JSON lines on ``stream`` (standard error): stdlib records through the formatter, and
    log_line's on structlog's native path."""
    global _native
    stream = stream or sys.stderr
    _native = structlog.wrap_logger(
        structlog.WriteLogger(stream),
        processors=[_native_line, structlog.processors.JSONRenderer(serializer=_json)],
        wrapper_class=structlog.make_filtering_bound_logger(logging.NOTSET),
        cache_logger_on_first_use=True,
    ).bind()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_formatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
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


def log_request(
    scope: Scope, request_id: str, status: int, started: float, route: str | None = None
) -> None:
    """The access line, and the request into the metrics under its ``route`` template (found
    in the scope unless given)."""
    elapsed = time.perf_counter() - started
    observe_request(scope, route or route_template(scope), status, elapsed)
    if access_log.isEnabledFor(logging.INFO):
        fields = {
            "request_id": request_id,
            "method": scope["method"],
            "path": scope["path"],
            "status": status,
            "ms": round(elapsed * 1000, 2),
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
