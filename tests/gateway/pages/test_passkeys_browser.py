"""Passkeys end to end in a real Chromium with a virtual authenticator (CTAP2, internal, with
user verification): added on the account page, used to sign in to an app that needs MFA (no
authenticator-app step, amr in the ID token), removed; a replayed answer is refused."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from jose import jwt as jose_jwt

from gateway.server.app import create_app
from store import client_policies
from tests.conftest import _ThreadedServer, free_port
from tests.gateway.helpers import second_instance
from tests.gateway.pages.test_login_page_browser import CALLBACK, PASSWORD, reached_callback


@pytest.fixture
async def passkey_city(settings_for):
    """The gateway on ``localhost`` (an IP address cannot be a WebAuthn RP id), an account
    and an app whose policy requires multi-factor sign-in."""
    port = free_port()
    settings = settings_for("services", issuer=f"http://localhost:{port}")
    app = create_app(settings)
    server = _ThreadedServer(app, port)
    server.start()
    try:
        async with second_instance(settings) as admin:
            account = await admin.accounts.create_local(
                username="zhang", password=PASSWORD, name="张伟"
            )
            registered = await admin.clients.register(name="财政审批", redirect_uris=[CALLBACK])
            async with admin.database.transaction() as session:
                await client_policies.put_policy(
                    session, registered.client.client_id, {"mfa": True}, None, 0
                )
        yield f"http://localhost:{port}", registered, account, settings
    finally:
        server.stop()


async def with_authenticator(chromium, locale: str = "zh-CN", width: int = 1280):
    context = await chromium.new_context(locale=locale, viewport={"width": width, "height": 800})
    page = await context.new_page()
    cdp = await context.new_cdp_session(page)
    await cdp.send("WebAuthn.enable")
    added = await cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return context, page, cdp, added["authenticatorId"]


def authorize_url(base: str, client_id: str) -> str:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": CALLBACK,
        "scope": "openid",
        "state": "pk",
    }
    return f"{base}/oauth/authorize?{urlencode(params)}"


async def id_token_claims(base: str, registered, callback: str) -> dict:
    code = parse_qs(urlsplit(callback).query)["code"][0]
    async with httpx.AsyncClient(base_url=base) as http:
        response = await http.post(
            "/oauth/token",
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK},
            auth=(registered.client.client_id, registered.client_secret),
        )
    assert response.status_code == 200, response.text
    return jose_jwt.get_unverified_claims(response.json()["id_token"])


async def add_passkey(page, base: str) -> None:
    """Sign in with the password on the account page and add a passkey named 办公电脑."""
    await page.goto(f"{base}/account/passkeys")
    await page.get_by_label("用户名").fill("zhang")
    await page.get_by_label("密码").fill(PASSWORD)
    await page.get_by_role("button", name="登录").click()
    await page.wait_for_url(f"{base}/account/passkeys")
    assert "您还没有通行密钥" in await page.inner_text("main")
    await page.get_by_label("名称").fill("办公电脑")
    await page.get_by_role("button", name="添加通行密钥").click()
    await page.wait_for_selector("text=办公电脑")
    assert await page.locator("ul.passkeys li").count() == 1


async def test_passkey_added_used_for_mfa_and_removed(chromium, passkey_city) -> None:
    base, registered, account, settings = passkey_city
    context, page, cdp, authenticator = await with_authenticator(chromium)
    try:
        await add_passkey(page, base)
        stored = await cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
        assert len(stored["credentials"]) == 1 and stored["credentials"][0]["isResidentCredential"]
        async with second_instance(settings) as admin:
            [kept] = await admin.passkeys.of_account(account.id)
        assert kept.name == "办公电脑" and kept.aaguid

        # Sign out, then in to an app that needs MFA with the passkey alone.
        await page.goto(f"{base}/oauth/logout")
        await page.get_by_role("button", name="退出").click()
        arrived: list[str] = []

        async def capture(route) -> None:
            arrived.append(route.request.url)
            await route.fulfill(status=200, body="callback reached")

        await page.route(f"{CALLBACK}**", capture)
        posted: list[str] = []
        page.on(
            "request",
            lambda r: (
                posted.append(r.post_data or "") if r.url.endswith("/login/passkey") else None
            ),
        )
        await page.goto(authorize_url(base, registered.client.client_id))
        await page.get_by_role("button", name="使用通行密钥").click()
        callback = await reached_callback(arrived)
        assert "code=" in callback and "state=pk" in callback
        claims = await id_token_claims(base, registered, callback)
        assert claims["sub"] and claims["amr"] == ["hwk", "user"]
        assert claims["acr"] == "L1"

        # The same answer again (a replay) signs no one in.
        replay = await context.request.post(
            f"{base}/login/passkey",
            data=posted[0],
            headers={"content-type": "application/x-www-form-urlencoded"},
            max_redirects=0,
        )
        assert replay.status in (400, 403), replay.status
        assert CALLBACK not in (replay.headers.get("location") or "")

        # Remove it: the account page lists none afterwards.
        await page.goto(f"{base}/account/passkeys")
        await page.get_by_role("button", name="删除").click()
        await page.wait_for_selector("text=您还没有通行密钥")
        async with second_instance(settings) as admin:
            assert await admin.passkeys.of_account(account.id) == []
    finally:
        await context.close()


async def test_without_webauthn_the_sign_in_page_has_no_passkey_button(
    chromium, passkey_city
) -> None:
    base, registered, _, _ = passkey_city
    context = await chromium.new_context(locale="zh-CN", java_script_enabled=False)
    page = await context.new_page()
    try:
        await page.goto(authorize_url(base, registered.client.client_id))
        assert await page.get_by_label("用户名").is_visible()
        assert not await page.get_by_role("button", name="使用通行密钥").is_visible()
    finally:
        await context.close()


async def test_english_on_a_phone_screen(chromium, passkey_city) -> None:
    base, registered, _, _ = passkey_city
    context = await chromium.new_context(locale="en-GB", viewport={"width": 375, "height": 700})
    page = await context.new_page()
    try:
        await page.goto(authorize_url(base, registered.client.client_id))
        button = page.get_by_role("button", name="Use a passkey")
        assert await button.is_visible()
        box = await button.bounding_box()
        assert box is not None and box["x"] + box["width"] <= 375
        await page.goto(f"{base}/account/passkeys")
        await page.get_by_label("Username").fill("zhang")
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Sign in", exact=True).click()
        await page.wait_for_url(f"{base}/account/passkeys")
        assert await page.get_by_role("button", name="Add a passkey").is_visible()
        assert "You have no passkeys yet." in await page.inner_text("main")
        assert await page.evaluate("document.documentElement.scrollWidth") <= 375
    finally:
        await context.close()
