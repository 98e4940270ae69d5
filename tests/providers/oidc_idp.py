"""A department's OpenID provider for tests: panva's oidc-provider (npm, pinned in
oidc_upstream/package.json), installed once per test run and started on a free port."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).parent / "oidc_upstream"


@dataclass
class Idp:
    issuer: str
    process: subprocess.Popen

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


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


def start(installed: Path, client_id: str, client_secret: str, redirect_uri: str) -> Idp:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = installed / f"idp-{port}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            ["node", "server.mjs", str(port), client_id, client_secret, redirect_uri],
            cwd=installed,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 20
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return Idp(f"http://127.0.0.1:{port}", process)
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"the test IdP did not start: {log.read_text()}") from None
            time.sleep(0.1)
