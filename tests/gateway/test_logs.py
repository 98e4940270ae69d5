"""The structured log lines as an operator's log collector reads them."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from gateway.logs import JsonLinesHandler, configure_logging, log_line

FLAGS = ("_srcfile", "logThreads", "logProcesses", "logMultiprocessing", "logAsyncioTasks")
ABSENT = object()  # logAsyncioTasks exists from Python 3.12 on


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """configure_logging as ``yihaotong serve`` runs it, written into a buffer; the root logger
    and logging's module flags are put back afterwards."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level, {flag: getattr(logging, flag, ABSENT) for flag in FLAGS}
    configure_logging("info")
    buffer = io.StringIO()
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(buffer)
    try:
        yield buffer
    finally:
        root.handlers[:], level, flags = saved[0], saved[1], saved[2]
        root.setLevel(level)
        for flag, value in flags.items():
            if value is ABSENT:
                delattr(logging, flag)
            else:
                setattr(logging, flag, value)


def test_a_line_is_one_json_object_with_its_fields(log_lines: io.StringIO) -> None:
    logging.getLogger("yihaotong.audit").warning(
        "login.failed", extra={"fields": {"actor": "王*", "request_id": "r-12345678"}}
    )
    logging.getLogger("yihaotong.access").debug("below the level")
    (line,) = log_lines.getvalue().splitlines()
    entry = json.loads(line)
    assert entry["level"] == "warning" and entry["logger"] == "yihaotong.audit"
    assert entry["message"] == "login.failed" and entry["request_id"] == "r-12345678"
    assert entry["actor"] == "王*" and "王" in line, "non-ASCII is written as it is"
    assert isinstance(entry["time"], float)
    assert not {"thread", "process", "lineno"} & set(entry)


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


@contextlib.contextmanager
def records_made() -> Iterator[list[str]]:
    """The names of the loggers whose LogRecords are built meanwhile. Our handler is the root's
    only one meanwhile, as in ``yihaotong serve`` (pytest adds its capture for each test)."""
    root = logging.getLogger()
    others = [h for h in root.handlers if not isinstance(h, JsonLinesHandler)]
    for handler in others:
        root.removeHandler(handler)
    made: list[str] = []
    factory = logging.getLogRecordFactory()

    def counting(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        made.append(record.name)
        return record

    logging.setLogRecordFactory(counting)
    try:
        yield made
    finally:
        logging.setLogRecordFactory(factory)
        for handler in others:
            root.addHandler(handler)


def test_a_direct_line_reads_as_the_logged_one(log_lines: io.StringIO) -> None:
    logger = logging.getLogger("yihaotong.access")
    fields = {"request_id": "r-12345678", "method": "POST", "path": "/oauth/token", "status": 200}
    with records_made() as made:
        log_line(logger, logging.INFO, "request", fields)
        log_line(logger, logging.DEBUG, "below the level", fields)
    assert made == [], "written without a LogRecord"
    logger.info("request", extra={"fields": fields})
    direct, logged = (json.loads(line) for line in log_lines.getvalue().splitlines())
    assert direct.pop("time") <= logged.pop("time")
    assert (
        direct
        == logged
        == {"level": "info", "logger": "yihaotong.access", "message": "request"} | fields
    )


def test_a_line_reaches_every_other_handler_as_a_record(log_lines: io.StringIO) -> None:
    """An operator's extra handler (or a test's capture) gets the record, filters apply, and
    our handler still writes the line once."""
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    audit = logging.getLogger("yihaotong.audit")
    keep = Keep()
    audit.addHandler(keep)
    try:
        with records_made() as made:
            log_line(audit, logging.WARNING, "login.failed", {"actor": "王*"})
    finally:
        audit.removeHandler(keep)
    assert made == ["yihaotong.audit"]
    assert [(r.getMessage(), r.fields) for r in seen] == [("login.failed", {"actor": "王*"})]  # type: ignore[attr-defined]
    assert len(log_lines.getvalue().splitlines()) == 1

    audit.addFilter(lambda record: False)
    try:
        with records_made():
            log_line(audit, logging.WARNING, "filtered out", {})
    finally:
        audit.filters.clear()
    assert len(log_lines.getvalue().splitlines()) == 1


async def test_direct_lines_on_a_loop_are_written_together_and_in_order(
    log_lines: io.StringIO,
) -> None:
    access = logging.getLogger("yihaotong.access")
    with records_made():
        log_line(access, logging.INFO, "first", {})
        log_line(access, logging.INFO, "second", {})
        assert log_lines.getvalue() == "", "gathered until the loop has run what was ready"
        logging.getLogger("yihaotong").warning("a record")
        log_line(access, logging.INFO, "third", {})
        await asyncio.sleep(0)
    lines = log_lines.getvalue().splitlines()
    assert [json.loads(line)["message"] for line in lines] == [
        "first",
        "second",
        "a record",
        "third",
    ]


async def test_a_line_json_cannot_hold_is_dropped_alone(
    log_lines: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    access = logging.getLogger("yihaotong.access")
    with records_made():
        log_line(access, logging.INFO, "before", {})
        log_line(access, logging.INFO, "odd", {"value": object()})  # not raised to the caller
        log_line(access, logging.INFO, "after", {})
        await asyncio.sleep(0)
    lines = log_lines.getvalue().splitlines()
    assert [json.loads(line)["message"] for line in lines] == ["before", "after"]
    assert "Logging error" in capsys.readouterr().err
