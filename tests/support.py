"""Small helpers shared by tests that start a real server of their own (slapd, an OpenID
provider, a CAS server): the process, waiting for its port, and skipping when a tool is absent."""

from __future__ import annotations

import ast
import gc
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REQUIRE_SERVICES


def required(available: bool, what: str) -> None:
    """Skip without ``what`` — or fail, when YIHAOTONG_TEST_REQUIRE_SERVICES=1 (CI)."""
    if available:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"{what} is required")
    pytest.skip(f"{what} is not installed")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class ServerProcess:
    url: str
    process: subprocess.Popen

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def serve(
    command: list[str], port: int, url: str, log: Path, seconds: float = 30, **popen
) -> ServerProcess:
    """Start ``command`` (its output into ``log``) and wait until it listens on ``port``."""
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, **popen)
    deadline = time.monotonic() + seconds
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return ServerProcess(url, process)
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"{command[0]} did not start: {log.read_text()}") from None
            time.sleep(0.05)


def parse_python(source: str, filename: str = "<unknown>") -> ast.Module:
    """``ast.parse`` with the collector paused: a collection inside the parser that runs a
    ``__del__`` (a leaked socket's ResourceWarning) trips CPython 3.11's AST depth check."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return ast.parse(source, filename)
    finally:
        if enabled:
            gc.enable()
