"""A department's CAS server for tests: django-cas-server in a small Django project
(``cas_server/``), migrated and seeded in a temporary directory, served by runserver."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support import ServerProcess, free_port, serve

PROJECT = Path(__file__).parent / "cas_server"


def available() -> bool:
    try:
        import cas_server  # noqa: F401
    except ImportError:
        return False
    return True


def start(workdir: Path, service_prefix: str) -> ServerProcess:
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
    port = free_port()
    command = [*django, "runserver", f"127.0.0.1:{port}", "--noreload"]
    return serve(command, port, f"http://127.0.0.1:{port}/cas", workdir / "cas.log", env=env)
