"""Scan to sign in with Chromium as the PC and a scripted app (httpx): the page waits by
long-poll and goes on by itself once the app confirms; it says so when the app refuses or the
code expires; and the QR tab is accessible in both languages on a phone and a desktop."""

from __future__ import annotations

import asyncio

import pytest

from tests.gateway.axe import assert_accessible
from tests.gateway.mobile.scan_world import WEB_CALLBACK, App, app_token

EMBEDDED = pytest.mark.parametrize("scan_world", ["embedded"], indirect=True)


async def open_scan_tab(chromium, world, width: int = 1280, locale: str = "zh-CN"):
    context = await chromium.new_context(
        viewport={"width": width, "height": 900}, locale=locale, device_scale_factor=1
    )
    page = await context.new_page()
    arrived: list[str] = []

    async def capture(route) -> None:
        arrived.append(route.request.url)
        await route.fulfill(status=200, body="callback reached")

    await page.route(f"{WEB_CALLBACK}**", capture)
    await page.goto(world.authorize_url())
    tab = "扫码登录" if locale == "zh-CN" else "Scan with app"
    await page.get_by_role("link", name=tab).click()
    await page.wait_for_url("**/login/scan?tx=*")
    return context, page, arrived


async def reached(arrived: list[str], seconds: float = 20) -> str:
    for _ in range(int(seconds * 20)):
        if arrived:
            return arrived[0]
        await asyncio.sleep(0.05)
    raise AssertionError("the PC never reached the app's redirect URI")


async def status_text(page, expected: str, seconds: float = 20) -> None:
    status = page.locator("#scan-status")
    for _ in range(int(seconds * 20)):
        if expected in (await status.inner_text()):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the status never said {expected!r}: {await status.inner_text()!r}")


@EMBEDDED
async def test_the_pc_signs_in_by_itself_once_the_app_confirms(chromium, scan_world) -> None:
    app = App(scan_world, await app_token(scan_world))
    context, page, arrived = await open_scan_tab(chromium, scan_world)
    try:
        qr = page.get_by_role("img", name="扫码登录二维码")
        assert await qr.locator("svg").count() == 1
        url = await page.locator("a.qr-link").get_attribute("href")
        assert url and url == await page.locator("a.qr-link").inner_text()
        assert (await app.call("scan", url)).status_code == 200
        await status_text(page, "已扫码，请在手机上确认")
        assert (await app.call("confirm", url)).status_code == 200
        callback = await reached(arrived)
        assert "code=" in callback and "state=s1" in callback
        # Used twice: the ticket ended with the sign-in, so a second answer finds it gone.
        second = await app.call("confirm", url)
        assert second.status_code == 410
    finally:
        await context.close()
        await app.close()


@EMBEDDED
async def test_the_pc_shows_a_refusal_and_offers_a_new_code(chromium, scan_world) -> None:
    app = App(scan_world, await app_token(scan_world))
    context, page, arrived = await open_scan_tab(chromium, scan_world)
    try:
        url = await page.locator("a.qr-link").get_attribute("href")
        assert url
        assert (await app.call("scan", url)).status_code == 200
        assert (await app.call("refuse", url)).status_code == 200
        await status_text(page, "已在手机上取消登录")
        await page.get_by_role("link", name="刷新二维码").click()
        await page.wait_for_url("**new=1")
        fresh = await page.locator("a.qr-link").get_attribute("href")
        assert fresh and fresh != url
        assert not arrived
    finally:
        await context.close()
        await app.close()


@EMBEDDED
async def test_an_expired_code_is_said_so(chromium, scan_world) -> None:
    app = App(scan_world, await app_token(scan_world))
    context, page, arrived = await open_scan_tab(chromium, scan_world, locale="en")
    try:
        url = await page.locator("a.qr-link").get_attribute("href")
        assert url
        scan_world.clock.advance(121)
        await page.reload()
        await status_text(page, "The code has expired")
        assert (await app.call("scan", url)).status_code == 410
        assert not arrived
    finally:
        await context.close()
        await app.close()


@EMBEDDED
@pytest.mark.parametrize("locale", ["zh-CN", "en"])
@pytest.mark.parametrize("width", [375, 1280])
async def test_the_qr_tab_is_accessible(chromium, scan_world, locale: str, width: int) -> None:
    context, page, _ = await open_scan_tab(chromium, scan_world, width=width, locale=locale)
    try:
        await assert_accessible(page)
        assert await page.evaluate("document.documentElement.scrollWidth") <= width
        box = await page.locator("div[role=img]").bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width
    finally:
        await context.close()
