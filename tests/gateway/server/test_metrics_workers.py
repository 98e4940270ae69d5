"""``/metrics`` under ``yihaotong serve --workers 2``: a scripted set of sign-ins and token
requests, spread over both workers, is found in one scrape with the counts it caused, and no
personal data of the person who signed in appears anywhere in it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from gateway.identity import expiry_sweep
from store import kv_keys
from tests.conftest import CHEAP_HASHING
from tests.gateway.browser import Browser
from tests.gateway.cli.test_cli import YIHAOTONG
from tests.gateway.helpers import second_instance
from tests.gateway.server.scrape import samples as parsed
from tests.gateway.server.scrape import value as _value
from tests.gateway.sso import CALLBACK, PASSWORD, authorize_url, code_of
from tests.support import free_port

TOKEN = "scrape-secret-0123456789"
EXPIRED = "yihaotong_expired_unused_total"
TOKENS = 12


def _serve(env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    with log.open("wb") as output:
        process = subprocess.Popen(
            [YIHAOTONG, "serve", "--port", str(port), "--workers", "2"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"serve exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    raise AssertionError(f"serve did not become ready: {log.read_text()[-2000:]}")


@pytest.mark.slow
@pytest.mark.services
async def test_two_workers_report_the_counts_a_script_caused(settings_for, tmp_path: Path) -> None:
    port = free_port()
    settings = settings_for("services", issuer=f"http://127.0.0.1:{port}")
    async with second_instance(settings) as admin:
        await admin.accounts.create_local(
            username="zhangsan",
            password=PASSWORD,
            name="张三丰",
            email="zhangsan@example.gov.cn",
            phone="13912340000",
        )
        app = await admin.clients.register(name="税务服务", redirect_uris=[CALLBACK])
        machine = await admin.clients.register(
            name="统计上报", grant_types=["client_credentials"], scopes=["data.read"]
        )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("YIHAOTONG_", "PROMETHEUS"))}
    env |= CHEAP_HASHING | {
        "YIHAOTONG_DATA_DIR": str(settings.data_dir),
        "YIHAOTONG_ISSUER": settings.issuer,
        "YIHAOTONG_DATABASE_URL": str(settings.database_url),
        "YIHAOTONG_REDIS_URL": str(settings.redis_url),
        "YIHAOTONG_REDIS_PREFIX": settings.redis_prefix,
        "YIHAOTONG_METRICS_TOKEN": TOKEN,
        "YIHAOTONG_EXPIRY_SWEEP_SECONDS": "0.5",
    }
    server = _serve(env, port, tmp_path / "serve.log")
    base = f"http://127.0.0.1:{port}"
    try:
        refused = Browser(base)
        try:
            again = await refused.go(
                authorize_url(base, app.client.client_id), username="zhangsan", password="wrong!"
            )
            assert again.status_code == 400 and again.request.url.path == "/login"
        finally:
            await refused.close()
        browser = Browser(base)
        try:
            arrival = await browser.go(
                authorize_url(base, app.client.client_id), username="zhangsan", password=PASSWORD
            )
        finally:
            await browser.close()
        async with httpx.AsyncClient(base_url=base) as http:
            form = {"grant_type": "authorization_code", "code": code_of(arrival)}
            form["redirect_uri"] = CALLBACK
            auth = (app.client.client_id, app.client_secret)
            assert (await http.post("/oauth/token", data=form, auth=auth)).status_code == 200
            auth = (machine.client.client_id, machine.client_secret)
            for _ in range(TOKENS):  # a fresh connection each: both workers take some
                answer = await http.post(
                    "/oauth/token",
                    data={"grant_type": "client_credentials"},
                    auth=auth,
                    headers={"Connection": "close"},
                )
                assert answer.status_code == 200
            assert (await http.get("/metrics")).status_code == 401
            # A code written as the gateway writes one, left to expire (a real one lives a
            # minute): swept by one of the workers, counted once.
            async with second_instance(settings) as other:
                await other.expiring.issue(
                    kv_keys.authorization_code("0" * 64), "app", b"{}", 0.3, expiry_sweep.CODE
                )
            deadline = time.monotonic() + 30
            while True:
                scrape = await http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
                expired = parsed(scrape.text).get((EXPIRED, (("kind", "authorization_code"),)))
                if expired or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.3)
            await asyncio.sleep(1 + expiry_sweep.GRACE)  # a second count would show by now
            scrape = await http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    finally:
        os.killpg(server.pid, signal.SIGINT)
        server.wait(timeout=30)

    assert scrape.status_code == 200
    samples = parsed(scrape.text)
    sign_ins = "yihaotong_sign_ins_total"
    assert _value(samples, sign_ins, method="local", outcome="success") == 1
    assert _value(samples, sign_ins, method="local", outcome="failure") == 1
    issued = "yihaotong_tokens_issued_total"
    machine_id = machine.client.client_id
    assert _value(samples, issued, grant_type="client_credentials", client_id=machine_id) == TOKENS
    assert (
        _value(samples, issued, grant_type="authorization_code", client_id=app.client.client_id)
        == 1
    )
    # The code exchanged in time is not counted; the one left to expire is, once.
    assert _value(samples, EXPIRED, kind="authorization_code") == 1
    requests = "yihaotong_http_request_duration_seconds_count"
    assert _value(samples, requests, method="POST", route="/oauth/token", status="200") == (
        TOKENS + 1
    )
    assert _value(samples, requests, method="POST", route="/login", status="400") == 1
    # The audit log's and the token path's statements went to PostgreSQL, and Redis was used.
    assert _value(samples, "yihaotong_database_statement_duration_seconds_count", outcome="ok")
    assert any(name == "yihaotong_redis_command_duration_seconds_count" for name, _ in samples)
    assert any(name == "yihaotong_signing_key_age_seconds" for name, _ in samples)
    for personal in ("zhangsan", "张三", "13912340000", "example.gov.cn", "127.0.0.1"):
        assert personal not in scrape.text
