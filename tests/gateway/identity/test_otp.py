"""The TOTP second factor end to end: set up on the account page, asked for when an app needs
multi-factor sign-in, each code good once, wrong codes limited, all of it audited."""

from __future__ import annotations

import asyncio
import time

import pyotp
import pytest
from jose import jwt as jose_jwt

from store import client_policies
from tests.gateway.browser import Browser, hidden
from tests.gateway.helpers import second_instance
from tests.gateway.identity.test_access_policies import CALLBACK, PASSWORD, authorize_url, exchange


@pytest.fixture
async def mfa_app(live_server):
    async with second_instance(live_server.settings) as admin:
        app = await admin.clients.register(name="财政审批", redirect_uris=[CALLBACK])
        await admin.accounts.create_local(username="zhao", password=PASSWORD, name="赵敏")
        async with admin.database.transaction() as session:
            await client_policies.put_policy(session, app.client.client_id, {"mfa": True}, None, 0)
    return live_server, app


async def enrol(browser: Browser) -> pyotp.TOTP:
    """Sign in on the account page and turn on an authenticator app; its TOTP."""
    page = await browser.go("/account/otp", username="zhao", password=PASSWORD)
    assert page.status_code == 200 and page.request.url.path == "/account/otp"
    secret = page.text.split('<code id="secret">')[1].split("</code>")[0].replace(" ", "")
    totp = pyotp.TOTP(secret)
    wrong = await browser.http.post(
        "/account/otp",
        data={"csrf_token": hidden(page.text, "csrf_token"), "action": "confirm", "code": "000000"},
    )
    assert wrong.status_code == 400 and "动态码不正确" in wrong.text
    assert secret in wrong.text.replace(" ", ""), "the same key is shown again after a typo"
    done = await browser.http.post(
        "/account/otp",
        data={
            "csrf_token": hidden(page.text, "csrf_token"),
            "action": "confirm",
            "code": totp.now(),
        },
    )
    # Turned on: the answer shows the new recovery codes, once.
    assert done.status_code == 200 and done.text.count("<code>") == 10
    return totp


async def test_an_app_that_needs_mfa_asks_for_the_code_once_per_code(mfa_app) -> None:
    live, app = mfa_app
    browser = Browser(live.url)
    try:
        no_factor = await browser.go(
            authorize_url(live.url, app.client.client_id), username="zhao", password=PASSWORD
        )
        assert no_factor.status_code == 403 and "多因素登录" in no_factor.text
        totp = await enrol(browser)
        used = totp.now()  # taken by the enrolment already
        page = await browser.go(authorize_url(live.url, app.client.client_id))
        assert page.status_code == 200 and page.request.url.path == "/login/otp"
        assert 'autocomplete="one-time-code"' in page.text
        form = {"tx": hidden(page.text, "tx"), "csrf_token": hidden(page.text, "csrf_token")}
        replay = await browser.http.post("/login/otp", data={**form, "code": used})
        assert replay.status_code == 400, "a code works once"
        following = totp.at(time.time() + 30)  # the next code, inside the drift window
        accepted = await browser.http.post("/login/otp", data={**form, "code": following})
        assert accepted.status_code == 303
        arrival = await browser.go(accepted.headers["location"])
        id_token = jose_jwt.get_unverified_claims(
            (await exchange(live.url, app, arrival))["id_token"]
        )
        assert set(id_token["amr"]) == {"pwd", "otp"}
    finally:
        await browser.close()
    async with second_instance(live.settings) as admin:
        events = [e.event for e in await admin.audit.query(limit=100)]
        checks = [e.check for e in await admin.audit.query(event="authorize.step_up")]
    assert "account.otp_enrolled" in events and "login.otp" in events
    assert events.count("login.otp_failed") == 1 and checks == ["mfa"]


async def test_wrong_codes_are_limited(mfa_app) -> None:
    live, app = mfa_app
    browser = Browser(live.url)
    try:
        await enrol(browser)
        page = await browser.go(authorize_url(live.url, app.client.client_id))
        form = {"tx": hidden(page.text, "tx"), "csrf_token": hidden(page.text, "csrf_token")}
        statuses = [
            (await browser.http.post("/login/otp", data={**form, "code": "123456"})).status_code
            for _ in range(6)
        ]
    finally:
        await browser.close()
    # Five wrong codes in a window, then a pause (the enrolment's success cleared its typo).
    assert statuses[:5] == [400] * 5 and statuses[5] == 429


async def test_setting_up_twice_at_once_shows_one_secret(mfa_app) -> None:
    live, _ = mfa_app
    async with second_instance(live.settings) as services:
        account = await services.accounts.create_local(username="qian", password=PASSWORD)
        started = await asyncio.gather(*(services.otp.begin(account.id, "qian") for _ in range(4)))
    assert all(found is not None for found in started)
    assert len({found[0] for found in started if found is not None}) == 1
