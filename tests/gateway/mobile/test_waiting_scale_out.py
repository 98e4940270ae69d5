"""Scan to sign in across two gateway instances sharing Redis and PostgreSQL: the PC's page
waits on one, the app scans and confirms on the other, and the waiting long-poll hears each
step through the instances' pub/sub channel, long before it would end by itself (25 s)."""

from __future__ import annotations

import asyncio
import secrets

import pytest

from gateway.mobile.api import TICKET_PAGE_PREFIX
from tests.conftest import running_gateway
from tests.gateway.helpers import second_instance
from tests.gateway.mobile.scan_world import (
    APP_CALLBACK,
    PASSWORD,
    WEB_CALLBACK,
    App,
    ScanWorld,
    app_token,
    pc_at_scan_tab,
)
from tests.gateway.mobile.test_scan_sign_in import finish

HEARD_WITHIN = 10.0  # far under the long-poll's own end: only a wake-up answers in time


@pytest.fixture
async def two_instances(settings_for):
    async with second_instance(settings_for("services")) as admin:
        await admin.accounts.create_local(username="zhang", password=PASSWORD, name="张伟")
        app = await admin.clients.register(name="一号通", redirect_uris=[APP_CALLBACK], public=True)
        web = await admin.clients.register(name="电子税务局", redirect_uris=[WEB_CALLBACK])
    shared = {
        "redis_prefix": f"yht-test:{secrets.token_hex(6)}:",
        "mobile_app_clients": [app.client.client_id],
    }
    with (
        running_gateway(settings_for, "services", **shared) as a,
        running_gateway(settings_for, "services", **shared) as b,
    ):
        yield tuple(
            ScanWorld(
                live,
                app.client.client_id,
                app.client.client_id,
                web.client.client_id,
                web.client_secret or "",
                None,
            )
            for live in (a, b)
        )


async def test_the_pc_waiting_on_one_instance_hears_the_app_on_the_other(two_instances) -> None:
    pc_world, app_world = two_instances
    app = App(app_world, await app_token(app_world))  # the app talks to the other instance
    browser, tx, url = await pc_at_scan_tab(pc_world)
    ticket = url.removeprefix(pc_world.url + TICKET_PAGE_PREFIX)
    try:
        waiting = asyncio.ensure_future(browser.http.get(f"/login/scan/wait?tx={tx}&since=waiting"))
        await asyncio.sleep(0.3)  # the long-poll is waiting on the PC's instance
        assert not waiting.done()
        scanned = await app.call("scan", ticket)
        assert scanned.status_code == 200, scanned.text
        heard = await asyncio.wait_for(waiting, HEARD_WITHIN)
        assert heard.json() == {"state": "scanned"}

        waiting = asyncio.ensure_future(browser.http.get(f"/login/scan/wait?tx={tx}&since=scanned"))
        await asyncio.sleep(0.3)
        assert not waiting.done()
        assert (await app.call("confirm", ticket)).json() == {"state": "confirmed"}
        heard = await asyncio.wait_for(waiting, HEARD_WITHIN)
        assert heard.json() == {"state": "confirmed"}
        signed_in = await finish(browser, tx)
        assert signed_in.status_code == 303
    finally:
        await browser.close()
        await app.close()
