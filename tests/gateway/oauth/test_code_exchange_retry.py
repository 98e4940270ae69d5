"""A code exchange that fails mid-way for a transient reason (PostgreSQL dropping the
connection that was storing the refresh token) issued nothing, so the client's retry with the
same code succeeds; once tokens were issued the code stays spent, and a further use is refused
and revokes them (RFC 6749 §4.1.2).

The connection is killed at a known point: the test holds a lock on the refresh-token table of
its own database, waits until the gateway's INSERT queues behind it, and terminates that
backend with ``pg_terminate_backend`` (only ever a backend of the test's own database)."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable

import asyncpg
import httpx
import pytest

from tests.conftest import running_gateway
from tests.gateway.browser import Browser
from tests.gateway.helpers import second_instance

PASSWORD = "correct horse battery"
CALLBACK = "https://app.example.gov.cn/cb"


def _driver_url(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


@pytest.fixture(params=["redis", "memory"])
def gateway(request: pytest.FixtureRequest, settings_for, postgres_url: str):
    """The gateway on PostgreSQL, with the Redis or the in-process expiring store."""
    if request.param == "redis":
        context = running_gateway(settings_for, "services")
    else:
        context = running_gateway(settings_for, "embedded", database_url=postgres_url)
    with context as live:
        yield live


async def _cut_off(database_url: str, request: Awaitable[httpx.Response]) -> httpx.Response:
    """Send ``request`` while the refresh-token table is held, terminate the backend whose
    statement queues behind the lock, let go, and return the answer."""
    lock = await asyncpg.connect(_driver_url(database_url))
    try:
        name = await lock.fetchval("SELECT current_database()")
        assert re.fullmatch(r"yht_test_[0-9a-f]+", name)  # the fixture's own database
        transaction = lock.transaction()
        await transaction.start()
        await lock.execute("LOCK TABLE refresh_tokens IN ACCESS EXCLUSIVE MODE")
        exchange = asyncio.ensure_future(request)
        waiting: list[int] = []
        deadline = time.monotonic() + 20
        while not waiting:
            assert not exchange.done(), "the exchange finished without storing a refresh token"
            assert time.monotonic() < deadline, "no statement queued behind the lock"
            await asyncio.sleep(0.05)
            waiting = [
                row["pid"]
                for row in await lock.fetch(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'"
                )
            ]
        for pid in waiting:
            await lock.execute("SELECT pg_terminate_backend($1)", pid)
        await transaction.rollback()
        return await exchange
    finally:
        await lock.close()


@pytest.mark.slow
@pytest.mark.parametrize("token_format", ["jwt", "opaque"])
async def test_a_code_exchange_cut_off_by_the_database_can_be_retried(
    gateway, token_format: str
) -> None:
    """With an opaque access token the exchange has written its record before the refresh
    token: a token never sent is not an issued one, and the code still goes back."""
    live = gateway
    async with second_instance(live.settings) as admin:
        await admin.accounts.create_local(username="sun", password=PASSWORD)
        app = await admin.clients.register(
            name="不动产登记",
            redirect_uris=[CALLBACK],
            grant_types=["authorization_code", "refresh_token"],
            access_token_format=token_format,
        )
    auth = (app.client.client_id, app.client_secret)
    browser = Browser(live.url)
    try:
        arrival = await browser.go(
            f"{live.url}/oauth/authorize?response_type=code&client_id={app.client.client_id}"
            f"&redirect_uri={CALLBACK}&scope=openid",
            username="sun",
            password=PASSWORD,
        )
    finally:
        await browser.close()
    code = httpx.URL(arrival.headers["location"]).params["code"]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK}

    async with httpx.AsyncClient(base_url=live.url, timeout=30) as http:
        cut_off = await _cut_off(
            live.settings.resolved_database_url, http.post("/oauth/token", data=form, auth=auth)
        )
        assert cut_off.status_code == 503, cut_off.text
        assert cut_off.json()["error"] == "temporarily_unavailable"
        assert "access_token" not in cut_off.text

        retried = await http.post("/oauth/token", data=form, auth=auth)
        assert retried.status_code == 200, retried.text
        tokens = retried.json()

        # Issued now: the code is spent for good, and using it again withdraws its tokens.
        again = await http.post("/oauth/token", data=form, auth=auth)
        assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
        introspected = await http.post(
            "/oauth/introspect", data={"token": tokens["access_token"]}, auth=auth
        )
        refreshed = await http.post(
            "/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
            auth=auth,
        )
    assert introspected.json() == {"active": False}
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"
