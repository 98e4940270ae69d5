"""找回密码, the account pages of recovery and the real-name page in a real Chromium, in zh-CN
and English, on a phone (375 px) and a desktop (1280 px): each page checked by axe-core, the
flows run end to end (codes read from the development outbox), and one run without JavaScript."""

from __future__ import annotations

from urllib.parse import urlencode

import pyotp
import pytest

from gateway.pages.render import messages
from tests.conftest import running_gateway
from tests.gateway.axe import assert_accessible
from tests.gateway.helpers import second_instance
from tests.gateway.identity.test_access_policies import set_policy
from tests.gateway.pages.test_login_page_browser import reached_callback
from tests.gateway.recovery_flow import give_phone
from tests.gateway.sms_flow import last_code

CALLBACK = "https://app.example.gov.cn/cb"
PASSWORD = "correct horse battery"
NEW_PASSWORD = "a brand new passphrase"
PHONE = "13912345678"


def _url(base: str, client_id: str) -> str:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": CALLBACK,
        "scope": "openid",
        "state": "s1",
    }
    return f"{base}/oauth/authorize?{urlencode(params)}"


@pytest.fixture
async def gateway(settings_for):
    with running_gateway(settings_for) as live:
        async with second_instance(live.settings) as admin:
            account = await admin.accounts.create_local(username="zhang", password=PASSWORD)
            await give_phone(admin, account.id, PHONE)
            app = await admin.clients.register(name="市民服务中心", redirect_uris=[CALLBACK])
            strict = await admin.clients.register(name="财政审批", redirect_uris=[CALLBACK])
            await set_policy(admin, strict.client.client_id, {"mfa": True})
        yield live, _url(live.url, app.client.client_id), _url(live.url, strict.client.client_id)


async def _checked(page, width: int) -> None:
    """axe-core finds nothing serious, and the page does not scroll sideways."""
    await assert_accessible(page)
    overflow = await page.evaluate("document.scrollingElement.scrollWidth")
    assert overflow <= width, f"{page.url} scrolls sideways"


async def _open(chromium, locale: str, width: int, script: bool = True):
    context = await chromium.new_context(
        viewport={"width": width, "height": 800},
        locale=locale,
        device_scale_factor=1,
        java_script_enabled=script,
    )
    page = await context.new_page()
    page.set_default_timeout(10_000)
    arrived: list[str] = []

    async def capture(route) -> None:
        arrived.append(route.request.url)
        await route.fulfill(status=200, body="callback reached")

    await page.route(f"{CALLBACK}**", capture)
    return context, page, arrived


async def _recover(page, arrived, live, url: str, t, check) -> None:
    """找回密码 from the sign-in page: the number, the code, the new password; then signing in."""
    await page.goto(url)
    await page.get_by_role("link", name=t.recover_link).click()
    await check()
    await page.get_by_label(t.phone_number).fill(PHONE)
    await page.get_by_role("button", name=t.sms_send).click()
    assert "139****5678" in await page.get_by_role("status").inner_text()
    await check()
    await page.get_by_label(t.sms_code).fill(last_code(live.settings.data_dir, PHONE))
    await page.get_by_role("button", name=t["continue"]).click()
    await check()
    await page.get_by_label(t.new_password, exact=True).fill(NEW_PASSWORD)
    await page.get_by_label(t.new_password_again).fill(NEW_PASSWORD)
    await page.get_by_role("button", name=t.recover_submit).click()
    assert t.recover_done in await page.get_by_role("status").inner_text()
    await page.get_by_role("link", name=t.recover_sign_in).click()
    await page.get_by_label(t.username).fill("zhang")
    await page.get_by_label(t.password, exact=True).fill(NEW_PASSWORD)
    await page.get_by_role("button", name=t.sign_in, exact=True).click()
    assert "code=" in await reached_callback(arrived)
    await page.wait_for_url(f"{CALLBACK}**")


async def test_recovery_works_without_javascript(chromium, gateway) -> None:
    live, url, _ = gateway
    context, page, arrived = await _open(chromium, "en", 375, script=False)

    async def nothing() -> None:
        return None

    try:
        await _recover(page, arrived, live, url, messages("en"), nothing)
    finally:
        await context.close()


@pytest.mark.parametrize(
    ("locale", "width"), [("zh-CN", 375), ("zh-CN", 1280), ("en", 375), ("en", 1280)]
)
async def test_recovery_pages_in_a_browser(chromium, gateway, locale: str, width: int) -> None:
    live, url, strict_url = gateway
    t = messages(locale)
    context, page, arrived = await _open(chromium, locale, width)

    async def check() -> None:
        await _checked(page, width)

    try:
        await _recover(page, arrived, live, url, t, check)

        # The account pages: password, phone, real-name level.
        for path in ("/account/password", "/account/phone", "/account/real-name"):
            await page.goto(f"{live.url}{path}")
            await _checked(page, width)
        await page.get_by_label(t.real_name_name, exact=True).first.fill("张三")
        await page.get_by_label(t.real_name_id, exact=True).first.fill("11010519491231002X")
        await page.get_by_role("button", name=t.real_name_submit).first.click()
        assert "L2" in await page.get_by_role("status").inner_text()
        await _checked(page, width)

        # The authenticator app, then its recovery codes, shown once.
        await page.goto(f"{live.url}/account/otp")
        secret = (await page.locator("#secret").inner_text()).replace(" ", "")
        await page.get_by_label(t.otp_code, exact=True).fill(pyotp.TOTP(secret).now())
        await page.get_by_role("button", name=t.otp_confirm).click()
        codes = await page.locator("ol.codes code").all_inner_texts()
        assert len(codes) == 10
        await _checked(page, width)
        await page.goto(f"{live.url}/account/recovery-codes")
        assert t.recovery_codes_left.format(count=10) in await page.inner_text("main")
        await _checked(page, width)

        # An app that needs two factors: a recovery code in place of the app's code.
        arrived.clear()
        await page.goto(strict_url)
        await page.get_by_role("link", name=t.recovery_code_use).click()
        await _checked(page, width)
        await page.get_by_label(t.recovery_code, exact=True).fill(codes[0])
        await page.get_by_role("button", name=t["continue"]).click()
        assert "code=" in await reached_callback(arrived)
    finally:
        await context.close()
