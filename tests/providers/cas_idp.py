"""A department's CAS server for tests: django-cas-server in a small Django project
(``cas_server/``), migrated and seeded in a temporary directory, served by runserver."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

PROJECT = Path(__file__).parent / "cas_server"


@dataclass
class Cas:
    url: str
    process: subprocess.Popen

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def available() -> bool:
    try:
        import cas_server  # noqa: F401
    except ImportError:
        return False
    return True


def start(workdir: Path, service_prefix: str) -> Cas:
    env = {
        **os.environ,
        "CAS_TEST_DIR": str(workdir),
        "DJANGO_SETTINGS_MODULE": "settings",
        "PYTHONPATH": str(PROJECT),
    }
    django = [sys.executable, "-m", "django"]
    subprocess.run([*django, "migrate", "-v", "0"], env=env, check=True, capture_output=True)
    subprocess.run(
        [sys.executable, str(PROJECT / "seed.py"), service_prefix],
        env=env,
        check=True,
        capture_output=True,
    )
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = workdir / "cas.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*django, "runserver", f"127.0.0.1:{port}", "--noreload"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return Cas(f"http://127.0.0.1:{port}/cas", process)
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"the CAS server did not start: {log.read_text()}") from None
            time.sleep(0.1)
