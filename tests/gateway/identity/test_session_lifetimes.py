"""SSO session lifetimes seen by the apps on a live gateway: an idle session ends its bound
refresh tokens, and an app's refreshes do not keep the browser's session alive."""

from __future__ import annotations

import time

import httpx

from store.clock import FakeClock
from tests.conftest import running_gateway
from tests.gateway.browser import Browser
from tests.gateway.helpers import second_instance
from tests.gateway.sso import (
    CALLBACK,
    PASSWORD,
    authorize_url,
    code_of,
    exchange,
)


async def test_session_bound_refresh_tokens_end_with_the_session(settings_for) -> None:
    clock = FakeClock(time.time())
    with running_gateway(settings_for, clock=clock, session_idle_seconds=2) as live:
        async with second_instance(live.settings) as admin:
            await admin.accounts.create_local(username="wang", password=PASSWORD)
            tax = await admin.clients.register(name="税务服务", redirect_uris=[CALLBACK])
        browser = Browser(live.url)
        try:
            arrival = await browser.go(
                authorize_url(live.url, tax.client.client_id, scope="openid"),
                username="wang",
                password=PASSWORD,
            )
            tokens = (await exchange(live, tax, code_of(arrival))).json()
            clock.advance(2.5)  # the session idles out
            async with httpx.AsyncClient(base_url=live.url) as http:
                refreshed = await http.post(
                    "/oauth/token",
                    data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                    auth=(tax.client.client_id, tax.client_secret),
                )
            assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"
        finally:
            await browser.close()


async def test_app_refreshes_do_not_keep_the_browser_session_alive(settings_for) -> None:
    clock = FakeClock(time.time())
    with running_gateway(settings_for, clock=clock, session_idle_seconds=2) as live:
        async with second_instance(live.settings) as admin:
            await admin.accounts.create_local(username="wang", password=PASSWORD)
            tax = await admin.clients.register(name="税务服务", redirect_uris=[CALLBACK])
        browser = Browser(live.url)
        try:
            arrival = await browser.go(
                authorize_url(live.url, tax.client.client_id), username="wang", password=PASSWORD
            )
            tokens = (await exchange(live, tax, code_of(arrival))).json()
            clock.advance(1.2)
            async with httpx.AsyncClient(base_url=live.url) as http:
                refreshed = await http.post(
                    "/oauth/token",
                    data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                    auth=(tax.client.client_id, tax.client_secret),
                )
            assert refreshed.status_code == 200
            clock.advance(1.2)  # 2.4 s since the person was last seen
            silent = await browser.go(authorize_url(live.url, tax.client.client_id, prompt="none"))
            assert httpx.URL(silent.headers["location"]).params["error"] == "login_required"
        finally:
            await browser.close()
