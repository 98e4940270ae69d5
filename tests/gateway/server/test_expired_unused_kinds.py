"""``yihaotong_expired_unused_total`` for device codes, scan-to-sign-in tickets and pushed
request_uris: one of each left to expire is counted under its kind; one used in time is not, nor
a device code the person refused. The in-process run moves its clock past every expiry and reads
``/metrics``; the Redis run reads what is left in the ledgers from another instance."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from gateway.identity import expiry_sweep
from policies.clients import DEVICE_CODE
from store.clock import FakeClock
from tests.conftest import running_gateway
from tests.gateway.browser import Browser
from tests.gateway.endpoints.test_device_grant import answer_at_device_page, poll, start
from tests.gateway.helpers import second_instance
from tests.gateway.mobile.scan_world import (
    PASSWORD,
    WEB_CALLBACK,
    App,
    ScanWorld,
    app_token,
    pc_at_scan_tab,
)
from tests.gateway.mobile.test_scan_sign_in import finish
from tests.gateway.server.scrape import samples, value

TOKEN = "metrics-secret-abcdefghijklmnop"
EXPIRED = "yihaotong_expired_unused_total"
KINDS = ("device_code", "scan_ticket", "request_uri")
EVERYTHING = -3600.0  # a sweep with this grace sees every entry left in a ledger


@pytest.fixture(params=["embedded", "services"])
async def world(request, settings_for):
    backend = request.param
    async with second_instance(settings_for(backend)) as admin:
        # The user name the device page and the scan world's app both sign in with.
        await admin.accounts.create_local(username="zhang", password=PASSWORD, name="张伟")
        app = await admin.clients.register(
            name="一号通", redirect_uris=["https://app.yihaotong.example/cb"], public=True
        )
        web = await admin.clients.register(name="电子税务局", redirect_uris=[WEB_CALLBACK])
        kiosk = await admin.clients.register(
            name="政务大厅自助机", redirect_uris=[], grant_types=[DEVICE_CODE], public=True
        )
    clock = FakeClock() if backend == "embedded" else None
    with running_gateway(
        settings_for,
        backend,
        clock=clock,
        mobile_app_clients=[app.client.client_id],
        client_cache_seconds=0,
        expiry_sweep_seconds=0.2,
        metrics_token=TOKEN,
    ) as live:
        scan = ScanWorld(
            live, app.client.client_id, "", web.client.client_id, web.client_secret or "", clock
        )
        yield scan, kiosk.client.client_id


async def _expired(base: str) -> dict[str, float]:
    async with httpx.AsyncClient(base_url=base) as http:
        scrape = await http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert scrape.status_code == 200
    found = samples(scrape.text)
    return {kind: value(found, EXPIRED, kind=kind) for kind in KINDS}


async def _device_codes(base: str, kiosk_id: str) -> None:
    """Three device codes: redeemed in time, refused, and left to expire."""
    async with httpx.AsyncClient(base_url=base) as http:
        redeemed, refused, _ = [await start(http, kiosk_id) for _ in range(3)]
        await (await answer_at_device_page(base, redeemed["user_code"], "allow")).close()
        tokens = await poll(http, kiosk_id, redeemed["device_code"])
        assert tokens.status_code == 200, tokens.text
        await (await answer_at_device_page(base, refused["user_code"], "refuse")).close()
        denied = await poll(http, kiosk_id, refused["device_code"])
        assert denied.json()["error"] == "access_denied"


async def _scan_tickets(world: ScanWorld) -> None:
    """Three tickets: confirmed and finished in time, refused, and never scanned."""
    app = App(world, await app_token(world))
    browsers = [await pc_at_scan_tab(world) for _ in range(3)]
    try:
        (pc, tx, used), (_, _, refused), _ = browsers
        assert (await app.call("scan", used)).status_code == 200
        assert (await app.call("confirm", used)).status_code == 200
        assert (await finish(pc, tx)).status_code == 303
        assert (await app.call("scan", refused)).status_code == 200
        assert (await app.call("refuse", refused)).status_code == 200
    finally:
        await app.close()
        for browser, _, _ in browsers:
            await browser.close()


async def _pushed_requests(world: ScanWorld) -> None:
    """Two request_uris: one used at the authorization endpoint, one left to expire."""
    form = {"response_type": "code", "redirect_uri": WEB_CALLBACK, "scope": "openid"}
    async with httpx.AsyncClient(base_url=world.url) as http:
        pushed = [
            await http.post("/oauth/par", data=form, auth=(world.web_id, world.web_secret))
            for _ in "ab"
        ]
    assert all(response.status_code == 201 for response in pushed)
    browser = Browser(world.url)
    try:
        uri = pushed[0].json()["request_uri"]
        used = await browser.go(f"/oauth/authorize?client_id={world.web_id}&request_uri={uri}")
        assert used.status_code in (200, 303), used.text
    finally:
        await browser.close()


async def test_what_was_left_to_expire_is_counted_under_its_kind(world) -> None:
    scan, kiosk_id = world
    before = await _expired(scan.url)
    await _device_codes(scan.url, kiosk_id)
    await _scan_tickets(scan)
    await _pushed_requests(scan)
    # A refused scan ticket was never confirmed: counted with the one never scanned.
    expected = {"device_code": 1, "scan_ticket": 2, "request_uri": 1}
    if scan.clock is None:
        ledgers = {
            "device_code": expiry_sweep.DEVICE_CODE,
            "scan_ticket": expiry_sweep.SCAN_TICKET,
            "request_uri": expiry_sweep.PUSHED_REQUEST,
        }
        async with second_instance(scan.live.settings) as other:  # type: ignore[attr-defined]
            left = {
                kind: await other.expiring.sweep_ledger(ledger, EVERYTHING, 100)
                for kind, ledger in ledgers.items()
            }
        assert left == expected
        return
    scan.clock.advance(600 + expiry_sweep.GRACE + 1)  # past the device code's ten minutes
    started = time.monotonic()
    wanted = {kind: before[kind] + expected[kind] for kind in KINDS}
    while (counted := await _expired(scan.url)) != wanted:
        assert time.monotonic() - started < 30, f"counted {counted}, expected {wanted}"
        await asyncio.sleep(0.2)
    await asyncio.sleep(1)
    assert await _expired(scan.url) == wanted, "each is counted once"
