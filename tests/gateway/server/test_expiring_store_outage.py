"""When Redis cannot be reached, requests that need it get a clear 503 to retry, never a 500,
and nothing is confirmed to the client that was not stored."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlencode

import httpx
import pytest
from redis.asyncio import Redis

from store.kv_keys import address_failures
from tests.conftest import running_gateway
from tests.gateway.browser import Browser, hidden
from tests.gateway.helpers import second_instance, service_client
from tests.redis_cluster import _redis_server, require_redis_binaries
from tests.support import free_port


@pytest.fixture
def own_redis(tmp_path):
    """A Redis of this test's own, so that it can be stopped."""
    require_redis_binaries()
    port = free_port()
    server = _redis_server(tmp_path, port)
    try:
        yield f"redis://127.0.0.1:{port}/0", server
    finally:
        server.stop()


async def test_an_unreachable_expiring_store_is_a_503(settings_for, own_redis) -> None:
    url, server = own_redis
    with running_gateway(settings_for, "services", redis_url=url) as live:
        registered = await service_client(live.settings, access_token_format="opaque")
        auth = (registered.client.client_id, registered.client_secret)
        form = {"grant_type": "client_credentials"}
        async with httpx.AsyncClient(base_url=live.url) as http:
            issued = await http.post("/oauth/token", data=form, auth=auth)
            assert issued.status_code == 200, issued.text
            token = issued.json()["access_token"]
            server.stop()
            answers = [
                await http.post("/oauth/token", data=form, auth=auth),
                await http.post("/oauth/introspect", data={"token": token}, auth=auth),
                await http.get("/oauth/userinfo", headers={"Authorization": f"Bearer {token}"}),
            ]
    for answer in answers:
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"] == "temporarily_unavailable"
        assert answer.headers["retry-after"] == "1"
        assert answer.headers["cache-control"] == "no-store"
        assert "Traceback" not in answer.text


@pytest.mark.slow
async def test_a_sign_in_whose_session_is_not_stored_is_not_recorded(
    settings_for, own_redis
) -> None:
    """Redis goes away while the password is being checked: the answer is a 503 without a
    session, and no successful sign-in is recorded, because the audit row is written only once
    the session is stored."""
    url, server = own_redis
    callback = "https://portal.example.gov.cn/callback"
    slow = {"argon2_memory_kib": 131072, "argon2_time_cost": 8}  # most of a second a verify
    with running_gateway(settings_for, "services", redis_url=url, **slow) as live:
        async with second_instance(live.settings) as admin:
            await admin.accounts.create_local(username="wang", password="correct horse battery")
            client = await admin.clients.register(name="市民门户", redirect_uris=[callback])
        query = urlencode(
            {
                "response_type": "code",
                "client_id": client.client.client_id,
                "redirect_uri": callback,
                "scope": "openid",
                "state": "s",
            }
        )
        browser = Browser(live.url)
        try:
            page = await browser.go(f"{live.url}/oauth/authorize?{query}")
            form = {
                "tx": hidden(page.text, "tx"),
                "csrf_token": hidden(page.text, "csrf_token"),
                "username": "wang",
                "password": "correct horse battery",
            }
            posted = asyncio.create_task(browser.http.post("/login", data=form, timeout=60))
            # The attempt's counter is written with the reads before the hash: once it is in
            # Redis, the hash (most of a second) is under way and the session not yet stored.
            await _until_stored(url, live.settings.redis_prefix + address_failures("127.0.0.1"))
            assert not posted.done()
            server.stop()
            answer = await posted
        finally:
            await browser.close()
        async with second_instance(live.settings) as other:
            recorded = await other.audit.query(event="login.")
    assert answer.status_code == 503, answer.text
    assert "yht_session" not in answer.headers.get("set-cookie", "")
    assert recorded == []  # no login.succeeded, nor any other outcome of it


async def _until_stored(url: str, key: str, seconds: float = 30) -> None:
    watcher = Redis.from_url(url)
    try:
        deadline = time.monotonic() + seconds
        while not await watcher.exists(key):
            assert time.monotonic() < deadline, f"{key} was never written"
            await asyncio.sleep(0.005)
    finally:
        await watcher.aclose()
