"""The structured log lines as an operator's log collector reads them."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from gateway.server import logs
from gateway.server.logs import configure_logging, log_line


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """configure_logging as ``yihaotong serve`` runs it, written into a buffer; the root logger
    is put back afterwards."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    buffer = io.StringIO()
    configure_logging("info", stream=buffer)
    try:
        yield buffer
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        logs._native = None  # log_line back on the stdlib path the other tests read via caplog


def test_a_line_is_one_json_object_with_its_fields(log_lines: io.StringIO) -> None:
    logging.getLogger("yihaotong.audit").warning(
        "login.failed", extra={"fields": {"actor": "王*", "request_id": "r-12345678"}}
    )
    logging.getLogger("yihaotong.access").debug("below the level")
    (line,) = log_lines.getvalue().splitlines()
    entry = json.loads(line)
    assert list(entry)[:4] == ["time", "level", "logger", "message"]
    assert entry["level"] == "warning" and entry["logger"] == "yihaotong.audit"
    assert entry["message"] == "login.failed" and entry["request_id"] == "r-12345678"
    assert entry["actor"] == "王*" and "王" in line, "non-ASCII is written as it is"
    assert isinstance(entry["time"], float)
    assert not {"thread", "process", "lineno", "_record"} & set(entry)


def test_a_field_named_event_does_not_replace_the_message(log_lines: io.StringIO) -> None:
    log_line(logging.getLogger("yihaotong.audit"), logging.INFO, "audit", {"event": "x.y"})
    entry = json.loads(log_lines.getvalue())
    assert entry["message"] == "audit" and entry["event"] == "x.y"


def test_log_line_writes_the_members_a_stdlib_record_with_fields_does(
    log_lines: io.StringIO,
) -> None:
    """log_line takes structlog's native path; other records go through the formatter: one shape."""
    fields = {"event": "token.issued", "actor": "王*", "request_id": "r-12345678", "n": 2}
    log_line(logging.getLogger("yihaotong.audit"), logging.WARNING, "token.issued", fields)
    logging.getLogger("yihaotong.audit").warning("token.issued", extra={"fields": fields})
    log_line(logging.getLogger("yihaotong.access"), logging.DEBUG, "below the level", {})
    native, record = (json.loads(line) for line in log_lines.getvalue().splitlines())
    assert native.pop("time") <= record.pop("time")
    assert list(native.items()) == list(record.items())
    assert logs._native is not None, "the native path was taken"


def test_a_librarys_record_is_a_json_line_too(log_lines: io.StringIO) -> None:
    logging.getLogger("uvicorn.error").info("Started server process [%d]", 42)
    logging.getLogger("uvicorn.access").info("GET /?code=secret")  # prints query strings: off
    (line,) = log_lines.getvalue().splitlines()
    entry = json.loads(line)
    assert entry["logger"] == "uvicorn.error" and entry["message"] == "Started server process [42]"


def test_an_error_line_names_the_exception_and_carries_the_traceback(
    log_lines: io.StringIO,
) -> None:
    try:
        raise LookupError("boom")
    except LookupError:
        logging.getLogger("yihaotong").exception("failed", extra={"fields": {}})
    entry = json.loads(log_lines.getvalue())
    assert entry["error"] == "LookupError"
    assert "Traceback" in entry["traceback"] and "boom" in entry["traceback"]


def test_a_line_json_cannot_hold_is_reported_not_raised(
    log_lines: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    access = logging.getLogger("yihaotong.access")
    log_line(access, logging.INFO, "before", {})
    log_line(access, logging.INFO, "odd", {"value": object()})  # not raised to the caller
    log_line(access, logging.INFO, "after", {})
    lines = log_lines.getvalue().splitlines()
    assert [json.loads(line)["message"] for line in lines] == ["before", "after"]
    assert "Logging error" in capsys.readouterr().err
