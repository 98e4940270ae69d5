"""Scan to sign in with a scripted PC (httpx) and a scripted app: confirmed, refused, expiring,
used twice, and the apps that may not scan."""

from __future__ import annotations

import asyncio

import httpx
from jose import jwt as jose_jwt

from gateway.admin import lifecycle
from gateway.admin.changes import CLI
from gateway.admin.reach import Reach
from tests.gateway.browser import hidden
from tests.gateway.helpers import second_instance
from tests.gateway.mobile.scan_world import WEB_CALLBACK, App, app_token, pc_at_scan_tab


async def finish(browser, tx: str, page_html: str | None = None) -> httpx.Response:
    page = page_html or (await browser.http.get(f"/login/scan?tx={tx}")).text
    return await browser.http.post(
        "/login/scan", data={"tx": tx, "csrf_token": hidden(page, "csrf_token")}
    )


async def test_confirmed_on_the_phone_the_pc_signs_in_with_mca(scan_world) -> None:
    app = App(scan_world, await app_token(scan_world))
    browser, tx, url = await pc_at_scan_tab(scan_world)
    try:
        assert url.startswith(scan_world.url + "/scan/")
        # The PC waits (long-poll) while the app scans: it hears "scanned".
        waiting = asyncio.ensure_future(browser.http.get(f"/login/scan/wait?tx={tx}&since=waiting"))
        await asyncio.sleep(0.2)
        scanned = await app.call("scan", url)
        assert scanned.status_code == 200, scanned.text
        context = scanned.json()
        assert context["state"] == "scanned"
        assert context["client"]["name"] == "电子税务局"
        assert context["pc"]["ip"] == "127.0.0.1"
        assert context["pc"]["browser"] == "Chrome, Windows"
        assert context["pc"]["location"] == "本机" and context["pc"]["region"] == {
            "kind": "loopback"
        }
        assert 0 < context["expires_in"] <= 120
        assert (await waiting).json() == {"state": "scanned"}
        page = await browser.http.get(f"/login/scan?tx={tx}")
        assert "已扫码，请在手机上确认" in page.text
        # Nothing happens on the PC before the explicit confirmation.
        early = await finish(browser, tx, page.text)
        assert early.status_code == 400
        confirmed = await app.call("confirm", url)
        assert confirmed.status_code == 200 and confirmed.json() == {"state": "confirmed"}
        done = await browser.http.get(f"/login/scan/wait?tx={tx}&since=scanned")
        assert done.json() == {"state": "confirmed"}
        signed_in = await finish(browser, tx)
        assert signed_in.status_code == 303
        arrival = await browser.http.get(signed_in.headers["location"])
        location = arrival.headers["location"]
        assert location.startswith(WEB_CALLBACK)
        code = httpx.URL(location).params["code"]
        async with httpx.AsyncClient(base_url=scan_world.url) as http:
            tokens = await http.post(
                "/oauth/token",
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": WEB_CALLBACK,
                },
                auth=(scan_world.web_id, scan_world.web_secret),
            )
        claims = jose_jwt.get_unverified_claims(tokens.json()["id_token"])
        assert claims["amr"] == ["mca", "pwd"]
        # The ticket (and the authorization) is spent: a second finish signs nobody in.
        again = await finish(browser, tx, page.text)
        assert again.status_code == 400 and "location" not in again.headers
    finally:
        await browser.close()
        await app.close()


async def test_refused_on_the_phone_the_pc_does_not_sign_in(scan_world) -> None:
    app = App(scan_world, await app_token(scan_world))
    browser, tx, url = await pc_at_scan_tab(scan_world)
    try:
        assert (await app.call("scan", url)).status_code == 200
        refused = await app.call("refuse", url)
        assert refused.status_code == 200 and refused.json() == {"state": "refused"}
        state = await browser.http.get(f"/login/scan/wait?tx={tx}&since=scanned")
        assert state.json() == {"state": "refused"}
        attempt = await finish(browser, tx)
        assert attempt.status_code == 400 and "已在手机上取消登录" in attempt.text
        # After a refusal the app cannot change its mind, and the page offers a new code.
        late = await app.call("confirm", url)
        assert late.status_code == 409 and late.json()["reason"] == "ticket_used"
        fresh = await browser.http.get(f"/login/scan?tx={tx}&new=1")
        assert fresh.status_code == 200
        assert hidden(fresh.text, "tx") == tx and url not in fresh.text
    finally:
        await browser.close()
        await app.close()


async def test_a_ticket_is_scanned_once_and_answered_by_its_scanner_only(scan_world) -> None:
    app = App(scan_world, await app_token(scan_world))
    other = App(scan_world, await app_token(scan_world, scan_world.other_app_id))
    browser, _, url = await pc_at_scan_tab(scan_world)
    try:
        assert (await app.call("scan", url)).status_code == 200
        twice = await other.call("scan", url)
        assert twice.status_code == 409 and twice.json()["reason"] == "ticket_used"
        again = await app.call("scan", url)
        assert again.status_code == 409
        stranger = await other.call("confirm", url)
        assert stranger.status_code == 409 and stranger.json()["reason"] == "not_the_scanner"
        assert (await app.call("confirm", url)).status_code == 200
        second = await app.call("confirm", url)
        assert second.status_code == 409 and second.json()["reason"] == "ticket_used"
    finally:
        await browser.close()
        await app.close()
        await other.close()


async def test_an_unscanned_ticket_cannot_be_confirmed(scan_world) -> None:
    app = App(scan_world, await app_token(scan_world))
    browser, _, url = await pc_at_scan_tab(scan_world)
    try:
        answer = await app.call("confirm", url)
        assert answer.status_code == 409 and answer.json()["reason"] == "not_scanned"
        unknown = await app.call("scan", scan_world.url + "/scan/" + "x" * 43)
        assert unknown.status_code == 410 and unknown.json()["reason"] == "ticket_expired"
    finally:
        await browser.close()
        await app.close()


async def test_a_ticket_expires_after_two_minutes(scan_world) -> None:
    if scan_world.clock is None:
        return  # the embedded run moves the clock; Redis's own expiry is tested in store/
    app = App(scan_world, await app_token(scan_world))
    browser, tx, url = await pc_at_scan_tab(scan_world)
    try:
        scan_world.clock.advance(121)
        late = await app.call("scan", url)
        assert late.status_code == 410 and late.json()["reason"] == "ticket_expired"
        state = await browser.http.get(f"/login/scan/wait?tx={tx}&since=waiting")
        assert state.json() == {"state": "expired"}
        page = await browser.http.get(f"/login/scan?tx={tx}")
        assert "二维码已过期" in page.text and 'class="qr-link"' not in page.text
    finally:
        await browser.close()
        await app.close()


async def test_only_listed_apps_with_a_valid_token_may_scan(scan_world) -> None:
    browser, _, url = await pc_at_scan_tab(scan_world)
    try:
        async with httpx.AsyncClient(base_url=scan_world.url) as http:
            anonymous = await http.post("/mobile/scan", json={"ticket": url})
            assert anonymous.status_code == 401
            assert anonymous.headers["www-authenticate"].startswith("Bearer")
            forged = await http.post(
                "/mobile/scan", json={"ticket": url}, headers={"Authorization": "Bearer x.y.z"}
            )
            assert forged.status_code == 401 and forged.json()["error"] == "invalid_token"
        # The department's web app is a registered client, but not one of the city's apps.
        web_token = await web_app_token(scan_world)
        web = App(scan_world, web_token)
        refused = await web.call("scan", url)
        await web.close()
        assert refused.status_code == 403
        # The ticket is still unscanned.
        app = App(scan_world, await app_token(scan_world))
        assert (await app.call("scan", url)).status_code == 200
        await app.close()
    finally:
        await browser.close()


async def web_app_token(world) -> str:
    from tests.gateway.browser import Browser

    browser = Browser(world.url)
    try:
        arrival = await browser.go(
            world.authorize_url(), username="zhang", password="correct horse battery"
        )
    finally:
        await browser.close()
    code = httpx.URL(arrival.headers["location"]).params["code"]
    async with httpx.AsyncClient(base_url=world.url) as http:
        tokens = await http.post(
            "/oauth/token",
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": WEB_CALLBACK},
            auth=(world.web_id, world.web_secret),
        )
    return tokens.json()["access_token"]


async def test_the_link_beside_the_code_opens_a_page_that_points_to_the_app(scan_world) -> None:
    browser, _, url = await pc_at_scan_tab(scan_world)
    try:
        page = await browser.http.get(url)
        assert page.status_code == 200 and "一号通 App" in page.text
    finally:
        await browser.close()


async def test_a_suspended_app_can_no_longer_scan_or_confirm(scan_world) -> None:
    # The app's calls took any valid token of a listed app: suspended, its token still signed
    # a PC in, though UserInfo and introspection already refused it.
    app = App(scan_world, await app_token(scan_world))
    browser, tx, url = await pc_at_scan_tab(scan_world)
    try:
        assert (await app.call("scan", url)).status_code == 200
        async with second_instance(scan_world.live.settings) as admin:
            await lifecycle.set_state(
                admin, CLI, Reach.everywhere(), scan_world.app_id, "suspended"
            )
        scan_world.live.app.state.services.clients.forget(scan_world.app_id)
        confirmed = await app.call("confirm", url)
        assert confirmed.status_code == 401, confirmed.text
        state = await browser.http.get(f"/login/scan/wait?tx={tx}&since=confirmed")
        assert state.json() == {"state": "scanned"}
        assert (await finish(browser, tx)).status_code == 400
        other_pc, _, other_url = await pc_at_scan_tab(scan_world)
        await other_pc.close()
        assert (await app.call("scan", other_url)).status_code == 401
    finally:
        await browser.close()
        await app.close()
