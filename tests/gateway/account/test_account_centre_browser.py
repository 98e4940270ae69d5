"""The account centre in a real Chromium, in both languages at 375 and 1280 px: every page has
the navigation and a way back and passes axe-core (WCAG 2.1 AA); the language chosen once is
kept; the sign-in puts focus on the password after a failure. (The pages are plain forms: the
HTTP tests drive them without any script.)"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from tests.conftest import running_gateway
from tests.gateway.axe import assert_accessible
from tests.gateway.helpers import second_instance

PASSWORD = "correct horse battery"
CALLBACK = "https://app.example.gov.cn/cb"
WORDS = {
    "zh-CN": {"home": "个人中心", "signed_out": "您已退出一号通。", "wrong": "用户名或密码不正确"},
    "en": {"home": "My account", "signed_out": "You have signed out", "wrong": "not correct"},
}
ACCOUNT_PAGES = (
    "/account",
    "/account/sessions",
    "/account/data",
    "/account/otp",
    "/account/passkeys",
    "/account/close",
)


@pytest.fixture
async def centre(settings_for):
    with running_gateway(settings_for) as live:
        async with second_instance(live.settings) as admin:
            await admin.accounts.create_local(
                username="zhang",
                password=PASSWORD,
                name="张伟",
                phone="13800138000",
                email="zhang@example.gov.cn",
            )
            app = await admin.clients.register(
                name="医保服务", redirect_uris=[CALLBACK], require_consent=True
            )
        query = {
            "response_type": "code",
            "client_id": app.client.client_id,
            "redirect_uri": CALLBACK,
            "state": "s1",
            "prompt": "consent",
            "scope": "offline_access email openid phone profile",
        }
        yield live, f"{live.url}/oauth/authorize?{urlencode(query)}"


async def _context(chromium, locale: str, width: int):
    return await chromium.new_context(
        viewport={"width": width, "height": 800}, locale=locale, device_scale_factor=1
    )


async def _sign_in(page, password: str = PASSWORD) -> None:
    await page.locator("#username").fill("zhang")
    await page.locator("#password").fill(password)
    await page.locator("#password").press("Enter")
    await page.wait_for_load_state()


@pytest.mark.parametrize("width", [375, 1280])
@pytest.mark.parametrize("locale", ["zh-CN", "en"])
async def test_every_account_page_has_the_way_around_and_passes_axe(
    chromium, centre, locale: str, width: int
) -> None:
    live, authorize = centre
    context = await _context(chromium, locale, width)
    page = await context.new_page()
    await page.route(f"{CALLBACK}**", lambda route: route.fulfill(status=200, body="app"))
    try:
        # The consent page first: scopes in a reading order, long-lived access last.
        await page.goto(authorize)
        await _sign_in(page)
        assert page.url.startswith(f"{live.url}/consent")
        items = await page.locator("ul.scopes li").all_inner_texts()
        assert len(items) == 5 and ("长期授权" in items[-1] or "long-lived" in items[-1])
        assert "标识" in items[0] or "identifier" in items[0]
        await assert_accessible(page)
        await page.locator("button[value=allow]").click()
        await page.wait_for_url(f"{CALLBACK}**")

        for path in ACCOUNT_PAGES:
            await page.goto(f"{live.url}{path}")
            assert await page.get_attribute("html", "lang") == locale
            nav = page.get_by_role("navigation")
            assert await nav.locator('[aria-current="page"]').get_attribute("href") == path
            assert await nav.locator('a[href="/account"]').inner_text() == WORDS[locale]["home"]
            assert await page.evaluate("document.documentElement.scrollWidth") <= width
            text = await page.inner_text("main")
            assert ("、" not in text) if locale == "en" else (": " not in text)
            await assert_accessible(page)
        # The authenticator set-up: a QR code beside the key, inline (no script, no image URL).
        await page.goto(f"{live.url}/account/otp")
        qr = page.get_by_role("img")
        assert await qr.count() == 1 and await page.locator("#secret").is_visible()
        # My sessions: who is signed in, times local, scope labels, and a sign-out.
        await page.goto(f"{live.url}/account/sessions")
        main = await page.inner_text("main")
        assert "张伟" in main and "UTC+8" in main and "offline_access" not in main
        assert ("本机" if locale == "zh-CN" else "This computer") in main  # a loopback address
        fonts = await page.evaluate(
            "[getComputedStyle(document.body).fontFamily,"
            " getComputedStyle(document.querySelector('button')).fontFamily]"
        )
        assert fonts[0] == fonts[1], "buttons use the page's font"
        await page.locator("form button.secondary").first.click()
        await page.wait_for_load_state()
        assert WORDS[locale]["signed_out"] in await page.inner_text("main")
        assert await page.locator('main a[href="/account"]').count() == 1
        await assert_accessible(page)
        # An error page leads somewhere.
        await page.goto(f"{live.url}/consent?tx=unknown")
        assert await page.locator('main a[href="/account"]').count() == 1
        await assert_accessible(page)
    finally:
        await context.close()


async def test_the_language_chosen_stays_after_a_failed_sign_in(chromium, centre) -> None:
    live, authorize = centre
    context = await _context(chromium, "zh-CN", 1280)
    page = await context.new_page()
    try:
        await page.goto(authorize)
        assert await page.get_attribute("html", "lang") == "zh-CN"
        await page.get_by_role("link", name="English").click()
        assert await page.get_attribute("html", "lang") == "en"
        await _sign_in(page, password="wrong password")
        assert await page.get_attribute("html", "lang") == "en"
        assert WORDS["en"]["wrong"] in await page.get_by_role("alert").inner_text()
        assert await page.evaluate("document.activeElement.id") == "password"
        await assert_accessible(page)
        await page.goto(f"{live.url}/account")  # a page of another kind, the choice kept
        assert await page.get_attribute("html", "lang") == "en"
        await page.get_by_role("link", name="中文").click()
        assert await page.get_attribute("html", "lang") == "zh-CN"
        assert "/login" in page.url and "tx=" in page.url
    finally:
        await context.close()
