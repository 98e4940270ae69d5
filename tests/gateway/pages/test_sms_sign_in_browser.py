"""短信登录 in a real Chromium (Playwright) in zh-CN, on a phone (375 px) and a desktop (1280 px):
register with a phone, the code read from the development outbox; and the proof-of-work the page's
script solves after repeated sends."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from tests.conftest import running_gateway
from tests.gateway.helpers import second_instance
from tests.gateway.pages.test_login_page_browser import open_login, reached_callback
from tests.gateway.sms_flow import last_code, outbox

CALLBACK = "https://app.example.gov.cn/cb"
PHONE = "13912345678"


@pytest.fixture
async def gateway(settings_for):
    with running_gateway(settings_for, sms_challenge_bits=12) as live:
        async with second_instance(live.settings) as admin:
            registered = await admin.clients.register(name="市民服务中心", redirect_uris=[CALLBACK])
        params = {
            "response_type": "code",
            "client_id": registered.client.client_id,
            "redirect_uri": CALLBACK,
            "scope": "openid",
            "state": "s1",
        }
        yield live, f"{live.url}/oauth/authorize?{urlencode(params)}"


@pytest.mark.parametrize("width", [375, 1280])
async def test_register_with_a_phone(chromium, gateway, width: int) -> None:
    live, url = gateway
    context, page, arrived = await open_login(chromium, url, width=width)
    try:
        await page.get_by_role("link", name="短信登录").click()
        await page.get_by_label("手机号").fill(PHONE)
        await page.get_by_role("button", name="获取验证码").click()
        status = page.get_by_role("status")
        assert "139****5678" in await status.inner_text()
        code = last_code(live.settings.data_dir, PHONE)
        await page.get_by_label("短信验证码").fill(code)
        await page.get_by_label("我已阅读并同意").check()
        overflow = await page.evaluate("document.scrollingElement.scrollWidth")
        assert overflow <= width, "the page scrolls sideways"
        await page.get_by_role("button", name="登录或注册").click()
        callback = await reached_callback(arrived)
        assert "code=" in callback and "state=s1" in callback
    finally:
        await context.close()


async def test_the_page_solves_the_challenge_after_repeated_sends(chromium, gateway) -> None:
    live, url = gateway
    context, page, _ = await open_login(chromium, url)
    try:
        await page.get_by_role("link", name="短信登录").click()
        for number in ("13700000001", "13700000002"):
            await page.get_by_role("link", name="短信登录").click()
            await page.get_by_label("手机号").fill(number)
            await page.get_by_role("button", name="获取验证码").click()
            assert "验证码已发送" in await page.get_by_role("status").inner_text()
        await page.get_by_role("link", name="换一个手机号").click()
        await page.get_by_label("手机号").fill("13700000003")
        # A third send needs the challenge: the page carries it, and its script solves it
        # when the button is pressed (the words say what to do without scripts).
        assert await page.locator("#pow").count() == 1
        assert "20 秒" in await page.locator("#pow-help").inner_text()
        await page.get_by_role("button", name="获取验证码").click()
        await page.get_by_role("status").wait_for()
        assert "137****0003" in await page.get_by_role("status").inner_text()
        assert len(outbox(live.settings.data_dir)) == 3
    finally:
        await context.close()
