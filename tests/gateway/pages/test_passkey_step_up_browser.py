"""A passkey as the second factor (RFC 8176) in a real Chromium with a virtual authenticator:
signed in with a password, an app whose policy needs MFA offers the passkey on its second-step
page, and the app's ID token shows the added methods; an authenticator that cannot verify the
person is not enough."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from playwright.async_api import Error as PlaywrightError

from tests.gateway.axe import assert_accessible
from tests.gateway.helpers import second_instance
from tests.gateway.pages.test_login_page_browser import CALLBACK, PASSWORD, reached_callback
from tests.gateway.pages.test_passkeys_browser import (
    add_passkey,
    authorize_url,
    id_token_claims,
    passkey_city,  # noqa: F401 (a fixture)
    with_authenticator,
)


async def capture_callback(page) -> list[str]:
    """The app's callback URLs the browser is sent to (a route sees no redirected request)."""
    arrived: list[str] = []
    page.on("request", lambda r: arrived.append(r.url) if r.url.startswith(CALLBACK) else None)
    await page.route(f"{CALLBACK}**", lambda route: route.fulfill(status=200, body="reached"))
    return arrived


async def go(page, url: str) -> None:
    """Open ``url``; a redirect straight to the app's (unresolvable) callback is expected."""
    with contextlib.suppress(PlaywrightError):
        await page.goto(url)


@pytest.fixture
async def plain_app(passkey_city):  # noqa: F811
    """A second app of the same city that needs no second factor."""
    settings = passkey_city[3]
    async with second_instance(settings) as admin:
        return await admin.clients.register(name="办事指南", redirect_uris=[CALLBACK])


async def test_password_then_passkey_raises_the_methods_an_app_sees(
    chromium,
    passkey_city,  # noqa: F811
    plain_app,
) -> None:
    base, mfa_app, account, settings = passkey_city
    context, page, _, _ = await with_authenticator(chromium)
    try:
        await add_passkey(page, base)  # signs in with the password first
        arrived = await capture_callback(page)
        await go(page, authorize_url(base, plain_app.client.client_id))
        claims = await id_token_claims(base, plain_app, await reached_callback(arrived))
        assert claims["amr"] == ["pwd"] and claims["acr"] == "L1"

        arrived.clear()
        await page.goto(authorize_url(base, mfa_app.client.client_id))
        await page.wait_for_url(f"{base}/login/otp?**")
        assert await page.get_by_role("heading", name="第二步验证").is_visible()
        assert not await page.get_by_label("动态码").count()  # no authenticator app here
        await assert_accessible(page)
        await page.get_by_role("button", name="使用通行密钥").click()
        claims = await id_token_claims(base, mfa_app, await reached_callback(arrived))
        assert claims["amr"] == ["hwk", "pwd", "user"] and claims["acr"] == "L1"
        assert claims["sub"]
        async with second_instance(settings) as admin:
            for _ in range(200):  # the server writes its audit entries in batches
                if await admin.audit.query(event="login.passkey_second_factor", actor=account.id):
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("the second factor was not audited")
    finally:
        await context.close()


async def test_english_phone_screen_and_unverified_person_refused(
    chromium,
    passkey_city,  # noqa: F811
) -> None:
    base, mfa_app, _, _ = passkey_city
    context, page, cdp, authenticator = await with_authenticator(chromium, "en-GB", 375)
    try:
        await page.goto(f"{base}/account/passkeys")
        await page.get_by_label("Username").fill("zhang")
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Sign in", exact=True).click()
        await page.wait_for_url(f"{base}/account/passkeys")
        await page.get_by_label("Name").fill("Phone")
        await page.get_by_role("button", name="Add a passkey").click()
        await page.wait_for_selector("ul.passkeys li")

        arrived = await capture_callback(page)
        await page.goto(authorize_url(base, mfa_app.client.client_id))
        await page.wait_for_url(f"{base}/login/otp?**")
        assert await page.get_by_role("heading", name="Second step").is_visible()
        button = page.get_by_role("button", name="Use a passkey")
        box = await button.bounding_box()
        assert box is not None and box["x"] + box["width"] <= 375
        assert await page.evaluate("document.documentElement.scrollWidth") <= 375
        await assert_accessible(page)

        # The authenticator touches but cannot verify the person: no second factor.
        await cdp.send(
            "WebAuthn.setUserVerified",
            {"authenticatorId": authenticator, "isUserVerified": False},
        )
        await button.click()
        await page.wait_for_selector("#passkey-note:visible, #form-error")
        assert not arrived and "/login/otp" in page.url

        await cdp.send(
            "WebAuthn.setUserVerified", {"authenticatorId": authenticator, "isUserVerified": True}
        )
        await page.get_by_role("button", name="Use a passkey").click()
        claims = await id_token_claims(base, mfa_app, await reached_callback(arrived))
        assert claims["amr"] == ["hwk", "pwd", "user"]
    finally:
        await context.close()


LABELS = {
    "zh-CN": ("用户名", "密码", "登录", "名称", "添加通行密钥", "第二步验证", "使用通行密钥"),
    "en-GB": ("Username", "Password", "Sign in", "Name", "Add a passkey", "Second step",
              "Use a passkey"),
}  # fmt: skip


@pytest.mark.parametrize(("locale", "width"), [("zh-CN", 375), ("en-GB", 1280)])
async def test_the_second_step_page_fits_and_is_accessible(
    chromium,
    passkey_city,  # noqa: F811
    locale: str,
    width: int,
) -> None:
    """The two screens the tests above do not see: Chinese on a phone, English on a PC."""
    base, mfa_app, _, _ = passkey_city
    username, password, sign_in, name, add, heading, use = LABELS[locale]
    context, page, _, _ = await with_authenticator(chromium, locale, width)
    try:
        await page.goto(f"{base}/account/passkeys")
        await page.get_by_label(username).fill("zhang")
        await page.get_by_label(password).fill(PASSWORD)
        await page.get_by_role("button", name=sign_in, exact=True).click()
        await page.wait_for_url(f"{base}/account/passkeys")
        await page.get_by_label(name).fill("Phone")
        await page.get_by_role("button", name=add).click()
        await page.wait_for_selector("ul.passkeys li")

        await page.goto(authorize_url(base, mfa_app.client.client_id))
        await page.wait_for_url(f"{base}/login/otp?**")
        assert await page.get_by_role("heading", name=heading).is_visible()
        box = await page.get_by_role("button", name=use).bounding_box()
        assert box is not None and box["x"] + box["width"] <= width
        assert await page.evaluate("document.documentElement.scrollWidth") <= width
        await assert_accessible(page)
    finally:
        await context.close()
