"""A restarted gateway (a real ``yihaotong serve`` process) keeps clients, accounts and keys."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from jose import jwt as jose_jwt

from tests.conftest import CHEAP_HASHING, free_port
from tests.gateway.cli.test_cli import YIHAOTONG, in_process


def start(env: dict[str, str], port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        [YIHAOTONG, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"serve exited: {process.stderr.read()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError("serve did not become ready")


def stop(process: subprocess.Popen) -> str:
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=20)
    return stderr


@pytest.mark.slow
def test_restart_keeps_clients_accounts_and_keys(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("YIHAOTONG_")}
    env |= CHEAP_HASHING | {
        "YIHAOTONG_DATA_DIR": str(tmp_path / "var"),
        "YIHAOTONG_ISSUER": f"http://127.0.0.1:{port}",
    }
    # The command in this process: another process than the server's all the same.
    cli = in_process(tmp_path / "var", YIHAOTONG_ISSUER=env["YIHAOTONG_ISSUER"])
    server = start(env, port)
    try:
        made = cli(
            "clients", "create", "--name", "统计上报", "--grant-type", "client_credentials",
            "--json",
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        client = json.loads(made.stdout)
        created = cli(
            "users", "create", "--username", "wang", "--password-stdin",
            stdin="long enough password",
        )  # fmt: skip
        assert created.returncode == 0, created.stderr
        auth = (client["client_id"], client["client_secret"])
        first = httpx.post(
            f"http://127.0.0.1:{port}/oauth/token", data={"grant_type": "client_credentials"},
            auth=auth,
        )  # fmt: skip
        assert first.status_code == 200
        jwks_before = httpx.get(f"http://127.0.0.1:{port}/.well-known/jwks.json").json()
    finally:
        log = stop(server)
    assert "unsafe default" in log  # http issuer and SQLite are announced
    assert client["client_secret"] not in log

    server = start(env, port)
    try:
        again = httpx.post(
            f"http://127.0.0.1:{port}/oauth/token", data={"grant_type": "client_credentials"},
            auth=auth,
        )  # fmt: skip
        jwks_after = httpx.get(f"http://127.0.0.1:{port}/.well-known/jwks.json").json()
    finally:
        stop(server)
    assert again.status_code == 200, again.text
    assert jwks_after == jwks_before
    old_token = first.json()["access_token"]
    claims = jose_jwt.decode(old_token, jwks_after, audience=client["client_id"])
    assert claims["client_id"] == client["client_id"]
    assert (
        jose_jwt.get_unverified_header(again.json()["access_token"])["kid"]
        == jose_jwt.get_unverified_header(old_token)["kid"]
    )
    duplicate = cli(
        "users", "create", "--username", "wang", "--password-stdin", stdin="long enough password"
    )
    assert duplicate.returncode != 0 and "taken" in duplicate.stderr
