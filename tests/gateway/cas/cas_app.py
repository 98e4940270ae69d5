"""A department app that speaks CAS to 一号通: django-cas-ng in a small Django project
(``cas_app/``), migrated in a temporary directory and served by runserver."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

from tests.support import ServerProcess, free_port, serve

PROJECT = Path(__file__).parent / "cas_app"


def available() -> bool:
    # Found, not imported: django-cas-ng reads Django's settings as it is imported.
    return all(importlib.util.find_spec(name) for name in ("cas", "django_cas_ng"))


def start(workdir: Path, gateway_url: str, *, renew: bool = False) -> ServerProcess:
    workdir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "CAS_APP_DIR": str(workdir),
        "CAS_SERVER_URL": f"{gateway_url}/cas/",
        "CAS_RENEW": "1" if renew else "0",
        "DJANGO_SETTINGS_MODULE": "settings",
        "PYTHONPATH": str(PROJECT),
        "PYTHONUNBUFFERED": "1",
    }
    django = [sys.executable, "-m", "django"]
    subprocess.run([*django, "migrate", "-v", "0"], env=env, check=True, capture_output=True)
    port = free_port()
    command = [*django, "runserver", f"127.0.0.1:{port}", "--noreload"]
    return serve(command, port, f"http://127.0.0.1:{port}", workdir / "app.log", env=env)
