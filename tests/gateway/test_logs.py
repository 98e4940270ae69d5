"""The structured log lines as an operator's log collector reads them."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from gateway.logs import configure_logging

FLAGS = ("_srcfile", "logThreads", "logProcesses", "logMultiprocessing")


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """configure_logging as ``yihaotong serve`` runs it, written into a buffer; the root logger
    and logging's module flags are put back afterwards."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level, {flag: getattr(logging, flag) for flag in FLAGS}
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
