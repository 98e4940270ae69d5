"""Where and on what a person signs in: the region of each sign-in's address (forwarded by the
trusted proxy, as X-Forwarded-For), kept with the session and the audit entry, and the notice
(by the development SMS outbox) when a new device signs in from a new province."""

from __future__ import annotations

import time

import pyotp

from gateway.admin import apps
from gateway.admin.changes import CLI
from gateway.admin.reach import Reach
from gateway.identity.client_policy import PolicyDocument
from gateway.identity.phones import canonical
from tests.conftest import running_gateway
from tests.gateway.browser import Browser, hidden
from tests.gateway.helpers import second_instance
from tests.gateway.recovery_flow import give_phone
from tests.gateway.sms_flow import outbox
from tests.gateway.sso import CALLBACK, PASSWORD, authorize_url

SHENZHEN = "113.118.113.77"  # ip2region's own example: 中国|广东省|深圳市
NANJING = "114.114.114.114"
BEIJING = "61.135.169.121"


async def sign_in(live, client_id: str, address: str, browser: Browser | None = None) -> Browser:
    browser = browser or Browser(live.url, user_agent="Mozilla/5.0 (Windows NT 10.0) Chrome/131.0")
    browser.http.headers["X-Forwarded-For"] = address
    # prompt=login: a browser signed in already signs in again.
    arrival = await browser.go(
        authorize_url(live.url, client_id, prompt="login"), username="wang", password=PASSWORD
    )
    assert arrival.status_code in (302, 303), arrival.text
    return browser


def notices(live) -> list[dict]:
    return [m for m in outbox(live.settings.data_dir) if m["template"] == "notice"]


async def test_only_a_new_device_in_a_new_province_is_told(world) -> None:
    live, tax, account = world["live"], world["tax"], world["account"]
    async with second_instance(live.settings) as admin:
        await give_phone(admin, account.id, "13800138000")
    first = await sign_in(live, tax.client.client_id, SHENZHEN)
    assert notices(live) == [], "an account's first sign-in is nobody's news"
    cookie = first.http.cookies["yht_device_id"]
    # The same device elsewhere, and another device where the account has been: both familiar.
    await sign_in(live, tax.client.client_id, NANJING, first)
    assert first.http.cookies["yht_device_id"] == cookie, "the device keeps its id"
    second = await sign_in(live, tax.client.client_id, SHENZHEN)
    assert notices(live) == []
    third = await sign_in(live, tax.client.client_id, BEIJING)
    [notice] = notices(live)
    assert notice["phone"] == canonical("13800138000")
    assert "北京市" in notice["text"] and "新设备" in notice["text"]
    assert "Chrome, Windows" in notice["text"] and "UTC+8" in notice["text"]
    for browser in (first, second, third):
        await browser.close()
    async with second_instance(live.settings) as admin:
        told = await admin.audit.query(event="login.new_place")
        succeeded = await admin.audit.query(event="login.succeeded")
        sent = await admin.audit.query(event="sms.notice_sent")
    [entry] = told
    assert entry.details["region"]["city"] == "北京市" and entry.details["notice_sent"] is True
    assert entry.details["new_device"] and entry.details["new_province"]
    assert [e.details["notice"] for e in sent] == ["new_place"]
    provinces = sorted(e.details["region"].get("province", "") for e in succeeded)
    assert provinces == ["北京", "广东省", "广东省", "江苏省"]


async def test_my_sessions_show_the_region(world) -> None:
    live, tax = world["live"], world["tax"]
    browser = await sign_in(live, tax.client.client_id, SHENZHEN)
    try:
        mine = await browser.http.get("/account/sessions")
        assert mine.status_code == 200 and "广东省 深圳市" in mine.text and "登录地点" in mine.text
        english = await browser.http.get("/account/sessions", headers={"Accept-Language": "en"})
        assert "Location" in english.text and "广东省 深圳市" in english.text
    finally:
        await browser.close()


async def test_a_new_place_asks_for_the_second_factor_when_the_city_says_so(settings_for) -> None:
    with running_gateway(settings_for, new_place_second_factor=True) as live:
        async with second_instance(live.settings) as admin:
            account = await admin.accounts.create_local(username="wang", password=PASSWORD)
            app = await admin.clients.register(
                name="税务服务", redirect_uris=["https://app.example.gov.cn/cb"]
            )
            started = await admin.otp.begin(account.id, "wang")
            assert started is not None
            totp = pyotp.TOTP(started[0])
            assert await admin.otp.verify(account.id, totp.now(), confirming=True)
        client_id = app.client.client_id
        home = await sign_in(live, client_id, SHENZHEN)  # the first sign-in: nothing asked
        await sign_in(live, client_id, BEIJING, home)  # a known device: nothing asked
        await home.close()
        stranger = Browser(live.url)
        stranger.http.headers["X-Forwarded-For"] = NANJING
        page = await stranger.go(
            authorize_url(live.url, client_id), username="wang", password=PASSWORD
        )
        try:
            assert page.status_code == 200 and page.request.url.path == "/login/otp"
            form = {"tx": hidden(page.text, "tx"), "csrf_token": hidden(page.text, "csrf_token")}
            code = totp.at(time.time() + 30)
            accepted = await stranger.http.post("/login/otp", data={**form, "code": code})
            assert accepted.status_code == 303
            arrival = await stranger.go(accepted.headers["location"])
            assert arrival.status_code in (302, 303) and "code=" in arrival.headers["location"]
        finally:
            await stranger.close()
        async with second_instance(live.settings) as admin:
            steps = await admin.audit.query(event="authorize.step_up")
        assert [e.check for e in steps] == ["new_place"]


async def test_an_app_policy_can_ask_a_new_place_for_the_second_factor(settings_for) -> None:
    """Without the city-wide setting, only the app whose policy says so asks an unfamiliar
    sign-in for the second factor; the change goes through the admin service, audited."""
    with running_gateway(settings_for) as live:
        async with second_instance(live.settings) as admin:
            account = await admin.accounts.create_local(username="wang", password=PASSWORD)
            strict, plain = [
                await admin.clients.register(name=name, redirect_uris=[CALLBACK])
                for name in ("税务服务", "公积金")
            ]
            document = PolicyDocument(new_place_second_factor=True)
            strict_id, plain_id = strict.client.client_id, plain.client.client_id
            await apps.put_policy(admin, CLI, Reach.everywhere(), strict_id, document)
            started = await admin.otp.begin(account.id, "wang")
            assert started is not None
            totp = pyotp.TOTP(started[0])
            assert await admin.otp.verify(account.id, totp.now(), confirming=True)
        await (await sign_in(live, strict_id, SHENZHEN)).close()  # the first: nothing asked
        # Each from a new device in a province new to the account.
        for client_id, address, asked in ((plain_id, NANJING, False), (strict_id, BEIJING, True)):
            stranger = Browser(live.url)
            stranger.http.headers["X-Forwarded-For"] = address
            try:
                page = await stranger.go(
                    authorize_url(live.url, client_id), username="wang", password=PASSWORD
                )
                if asked:
                    assert page.status_code == 200 and page.request.url.path == "/login/otp"
                else:
                    assert page.status_code in (302, 303), page.text
                    assert "code=" in page.headers["location"]
            finally:
                await stranger.close()
        async with second_instance(live.settings) as admin:
            steps = await admin.audit.query(event="authorize.step_up")
            changed = await admin.audit.query(event="admin.policy.updated")
    assert [(e.check, e.client_id) for e in steps] == [("new_place", strict_id)]
    [entry] = changed
    assert entry.target == strict_id
    assert entry.details["after"]["document"]["new_place_second_factor"] is True
