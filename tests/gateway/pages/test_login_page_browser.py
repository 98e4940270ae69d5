"""The sign-in page in a real Chromium (Debian's, driven by Playwright): both languages, the
keyboard alone, and a 375 px wide phone screen."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.conftest import running_gateway
from tests.gateway.axe import assert_accessible
from tests.gateway.helpers import second_instance

CALLBACK = "https://app.example.gov.cn/cb"
PASSWORD = "correct horse battery"


@pytest.fixture
async def gateway(settings_for):
    with running_gateway(settings_for) as live:
        async with second_instance(live.settings) as admin:
            await admin.accounts.create_local(username="zhang", password=PASSWORD, name="张伟")
            registered = await admin.clients.register(name="市民服务中心", redirect_uris=[CALLBACK])
        params = {
            "response_type": "code",
            "client_id": registered.client.client_id,
            "redirect_uri": CALLBACK,
            "scope": "openid profile",
            "state": "s1",
        }
        yield live, f"{live.url}/oauth/authorize?{urlencode(params)}"


async def open_login(chromium, url: str, width: int = 1280, locale: str = "zh-CN"):
    context = await chromium.new_context(
        viewport={"width": width, "height": 800}, locale=locale, device_scale_factor=1
    )
    page = await context.new_page()
    arrived: list[str] = []

    async def capture(route) -> None:
        arrived.append(route.request.url)
        await route.fulfill(status=200, body="callback reached")

    await page.route(f"{CALLBACK}**", capture)
    await page.goto(url)
    return context, page, arrived


async def reached_callback(arrived: list[str], seconds: float = 15) -> str:
    """The callback URL the browser was sent to (caught by the route, no network needed)."""
    for _ in range(int(seconds * 20)):
        if arrived:
            return arrived[0]
        await asyncio.sleep(0.05)
    raise AssertionError("the browser never reached the client's redirect URI")


async def test_sign_in_in_chinese_with_the_keyboard_only(chromium, gateway) -> None:
    _, url = gateway
    context, page, arrived = await open_login(chromium, url)
    try:
        assert await page.get_attribute("html", "lang") == "zh-CN"
        assert "市民服务中心" in await page.inner_text("main")
        username = page.get_by_label("用户名")
        password = page.get_by_label("密码")
        assert await username.get_attribute("autocomplete") == "username"
        assert await password.get_attribute("autocomplete") == "current-password"
        # The username field has focus on arrival; Tab and Enter are all it takes.
        assert await page.evaluate("document.activeElement.id") == "username"
        await page.keyboard.type("zhang")
        await page.keyboard.press("Tab")
        assert await page.evaluate("document.activeElement.id") == "password"
        await page.keyboard.type(PASSWORD)
        await page.keyboard.press("Enter")
        callback = await reached_callback(arrived)
        assert "code=" in callback and "state=s1" in callback
    finally:
        await context.close()


async def test_wrong_password_is_announced(chromium, gateway) -> None:
    _, url = gateway
    context, page, _ = await open_login(chromium, url)
    try:
        await page.get_by_label("用户名").fill("zhang")
        await page.get_by_label("密码").fill("wrong password")
        await page.get_by_role("button", name="登录").click()
        alert = page.get_by_role("alert")
        assert "用户名或密码不正确" in await alert.inner_text()
        assert await page.get_by_label("用户名").input_value() == "zhang"
        assert await page.get_by_label("用户名").get_attribute("aria-describedby") == "form-error"
    finally:
        await context.close()


async def test_english_by_accept_language_and_by_ui_locales(chromium, gateway) -> None:
    _, url = gateway
    for target, locale in ((url, "en-US"), (url + "&ui_locales=en", "zh-CN")):
        context, page, arrived = await open_login(chromium, target, locale=locale)
        try:
            assert await page.get_attribute("html", "lang") == "en"
            await page.get_by_label("Username").fill("zhang")
            await page.get_by_label("Password").fill(PASSWORD)
            await page.get_by_role("button", name="Sign in").click()
            assert "code=" in await reached_callback(arrived)
        finally:
            await context.close()


async def test_usable_on_a_375px_phone(chromium, gateway, tmp_path: Path) -> None:
    _, url = gateway
    context, page, arrived = await open_login(chromium, url, width=375)
    try:
        shot = tmp_path / "login-375.png"
        await page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 5_000  # a rendered page, not a blank one
        assert await page.evaluate("document.documentElement.scrollWidth") <= 375
        for locator in (
            page.get_by_label("用户名"),
            page.get_by_label("密码"),
            page.get_by_role("button", name="登录"),
        ):
            box = await locator.bounding_box()
            assert box is not None
            assert box["x"] >= 0 and box["x"] + box["width"] <= 375
            assert box["height"] >= 40, "touch targets at least 40 px tall"
        # Chinese text renders with real glyphs (a CJK font is present): the heading is
        # wider than one box glyph per character would be at zero width.
        heading = await page.get_by_role("heading").bounding_box()
        assert heading is not None and heading["width"] > 20
        await page.get_by_label("用户名").fill("zhang")
        await page.get_by_label("密码").fill(PASSWORD)
        await page.get_by_role("button", name="登录").click()
        assert "code=" in await reached_callback(arrived)
    finally:
        await context.close()


async def test_the_page_refuses_to_be_framed(chromium, gateway) -> None:
    _, url = gateway
    context, page, _ = await open_login(chromium, url)
    try:
        response = await page.goto(url)
        assert response is not None
        headers = await response.all_headers()
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        # Only the page's own nonced script (the passkey button) runs; the form works without.
        [scripts] = [
            d for d in headers["content-security-policy"].split("; ") if d.startswith("script-src")
        ]
        assert re.fullmatch(r"script-src 'nonce-[A-Za-z0-9_-]{16,}'", scripts), scripts
    finally:
        await context.close()


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
@pytest.mark.parametrize("width", [375, 1280])
async def test_the_sign_in_page_has_no_serious_accessibility_violation(
    chromium, gateway, locale: str, width: int
) -> None:
    _, url = gateway
    context, page, _ = await open_login(chromium, url, width=width, locale=locale)
    try:
        await assert_accessible(page)
        # The same after a failed attempt, with the error shown.
        await page.locator("#username").fill("zhang")
        await page.locator("#password").fill("wrong password")
        await page.locator("#password").press("Enter")
        await page.get_by_role("alert").wait_for()
        await assert_accessible(page)
    finally:
        await context.close()
