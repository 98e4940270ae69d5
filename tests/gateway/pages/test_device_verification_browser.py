"""The device grant's verification page (/device) in Chromium: the person opens the kiosk's
verification_uri_complete, signs in and allows; the page is accessible in both languages on
a phone and a desktop."""

from __future__ import annotations

import httpx
import pytest

from policies.clients import DEVICE_CODE
from tests.conftest import running_gateway
from tests.gateway.axe import assert_accessible
from tests.gateway.helpers import second_instance

PASSWORD = "correct horse battery"


@pytest.fixture
async def kiosk(settings_for):
    with running_gateway(settings_for) as live:
        async with second_instance(live.settings) as admin:
            await admin.accounts.create_local(username="zhang", password=PASSWORD, name="张伟")
            registered = await admin.clients.register(
                name="政务大厅自助机", grant_types=[DEVICE_CODE], public=True
            )
        async with httpx.AsyncClient(base_url=live.url) as http:
            codes = await http.post(
                "/oauth/device_authorization",
                data={"client_id": registered.client.client_id, "scope": "openid profile"},
            )
        yield live, registered.client.client_id, codes.json()


async def test_allowing_a_kiosk_from_its_link(chromium, kiosk) -> None:
    live, client_id, codes = kiosk
    context = await chromium.new_context(locale="zh-CN", viewport={"width": 375, "height": 800})
    page = await context.new_page()
    try:
        await page.goto(codes["verification_uri_complete"])
        assert await page.get_by_label("设备验证码").input_value() == codes["user_code"]
        await page.get_by_role("button", name="继续").click()
        await page.get_by_label("用户名").fill("zhang")
        await page.get_by_label("密码").fill(PASSWORD)
        await page.get_by_role("button", name="登录").click()
        await page.get_by_text("政务大厅自助机").wait_for()
        assert codes["user_code"] in await page.inner_text("main")
        await assert_accessible(page)
        await page.get_by_role("button", name="同意").click()
        await page.get_by_role("status").wait_for()
        assert "已授权" in await page.get_by_role("status").inner_text()
        async with httpx.AsyncClient(base_url=live.url) as http:
            tokens = await http.post(
                "/oauth/token",
                data={
                    "grant_type": DEVICE_CODE,
                    "device_code": codes["device_code"],
                    "client_id": client_id,
                },
            )
        assert tokens.status_code == 200, tokens.text
    finally:
        await context.close()


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
@pytest.mark.parametrize("width", [375, 1280])
async def test_the_device_page_is_accessible(chromium, kiosk, locale: str, width: int) -> None:
    live, _, _ = kiosk
    context = await chromium.new_context(locale=locale, viewport={"width": width, "height": 800})
    page = await context.new_page()
    try:
        await page.goto(live.url + "/device")
        await assert_accessible(page)
        assert await page.evaluate("document.documentElement.scrollWidth") <= width
        # And with the error shown after a wrong code.
        await page.locator("#user_code").fill("BBBB-BBBB")
        await page.locator("#user_code").press("Enter")
        await page.get_by_role("alert").wait_for()
        await assert_accessible(page)
    finally:
        await context.close()
