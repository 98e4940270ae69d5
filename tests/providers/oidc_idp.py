"""A department's OpenID provider for tests: panva's oidc-provider (npm, pinned in
oidc_upstream/package.json), installed once per test run and started on a free port."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.support import ServerProcess, free_port, serve

HERE = Path(__file__).parent / "oidc_upstream"


def available() -> bool:
    return shutil.which("node") is not None and shutil.which("npm") is not None


def install(into: Path) -> Path:
    for name in ("package.json", "server.mjs"):
        shutil.copy(HERE / name, into / name)
    subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=into,
        check=True,
        capture_output=True,
        timeout=300,
    )
    return into


def start(installed: Path, client_id: str, client_secret: str, redirect_uri: str) -> ServerProcess:
    port = free_port()
    command = ["node", "server.mjs", str(port), client_id, client_secret, redirect_uri]
    return serve(
        command,
        port,
        f"http://127.0.0.1:{port}",
        installed / f"idp-{port}.log",
        seconds=20,
        cwd=installed,
    )
