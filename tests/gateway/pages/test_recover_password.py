"""找回密码 over real HTTP against a live gateway: the code read from the development outbox, the
same answers for a number without an account, every session ended with its apps told by
back-channel logout, the second factor still asked for, audited, and a notice to the phone."""

from __future__ import annotations

import asyncio
import time

import pyotp
import pytest
from jose import jwt as jose_jwt

from tests.conftest import free_port, running_gateway
from tests.gateway.browser import Browser, hidden
from tests.gateway.helpers import second_instance
from tests.gateway.recovery_flow import give_phone, post, recovery_page
from tests.gateway.sms_flow import last_code, outbox
from tests.gateway.sso import CALLBACK, authorize_url, code_of, exchange

PASSWORD = "correct horse battery"
NEW_PASSWORD = "a brand new passphrase"
PHONE = "13912345678"


@pytest.fixture
async def city(live_server, receiver):
    async with second_instance(live_server.settings) as admin:
        account = await admin.accounts.create_local(username="wang", password=PASSWORD)
        await give_phone(admin, account.id, PHONE)
        tax = await admin.clients.register(
            name="税务服务", redirect_uris=[CALLBACK], backchannel_logout_uri=receiver.uri("tax")
        )
    browsers = [Browser(live_server.url), Browser(live_server.url)]
    try:
        yield live_server, account, tax, browsers
    finally:
        for browser in browsers:
            await browser.close()


async def fresh_sign_in(live, url: str, password: str):
    browser = Browser(live.url)
    try:
        return await browser.go(url, username="wang", password=password)
    finally:
        await browser.close()


async def events(settings) -> list:
    async with second_instance(settings) as admin:
        return await admin.audit.query(limit=200)


async def reset_to(live, browser, url, phone, password, **extra) -> object:
    page = await recovery_page(browser, url)
    sent = await post(browser, page, "/login/recover/send", phone=phone)
    assert sent.status_code == 200, sent.text
    code = last_code(live.settings.data_dir, phone)
    verified = await post(browser, sent, "/login/recover", code=code)
    assert verified.status_code == 200 and 'name="password_confirm"' in verified.text
    return await post(
        browser,
        verified,
        "/login/recover/reset",
        password=password,
        password_confirm=password,
        **extra,
    )


async def test_a_reset_ends_every_session_and_tells_the_apps(city, receiver) -> None:
    live, account, tax, (phone_browser, other) = city
    url = authorize_url(live.url, tax.client.client_id)
    arrival = await other.go(url, username="wang", password=PASSWORD)
    assert (await exchange(live, tax, code_of(arrival))).status_code == 200

    done = await reset_to(live, phone_browser, url, PHONE, NEW_PASSWORD)
    assert done.status_code == 200 and 'href="/login?tx=' in done.text

    await receiver.wait_for(1)
    path, token = receiver.received[0]
    assert (
        path == "/tax/bcl" and jose_jwt.get_unverified_claims(token)["aud"] == tax.client.client_id
    )
    # The other browser is signed out: the app's next request asks for a sign-in.
    again = await other.http.get(url + "&prompt=none")
    assert "error=login_required" in again.headers["location"]
    refused = await fresh_sign_in(live, url, PASSWORD)
    assert refused.status_code == 401 or refused.request.url.path == "/login"
    welcome = await other.go(url, username="wang", password=NEW_PASSWORD)
    assert welcome.headers["location"].startswith(CALLBACK)

    messages = outbox(live.settings.data_dir)
    assert [m["template"] for m in messages] == ["recovery", "notice"]
    assert all(set(m) == {"time", "phone", "template", "code", "text"} for m in messages)
    assert messages[1]["phone"] == PHONE and messages[1]["code"] == ""
    found = {e.event: e for e in await events(live.settings)}
    assert found["account.password_reset"].target == account.id
    assert found["account.password_reset"].details["sessions_ended"] == 1
    assert "13912345678" not in str(found["account.password_reset"].details)


async def test_a_number_without_an_account_gets_the_same_answer(city) -> None:
    live, _, tax, (browser, other) = city
    url = authorize_url(live.url, tax.client.client_id)
    known_page = await recovery_page(browser, url)
    known = await post(browser, known_page, "/login/recover/send", phone=PHONE)
    unknown_page = await recovery_page(other, url)
    unknown = await post(other, unknown_page, "/login/recover/send", phone="13700000009")
    strip = lambda page: page.text.replace(hidden(page.text, "tx"), "").replace(  # noqa: E731
        hidden(page.text, "csrf_token"), ""
    )
    assert known.status_code == unknown.status_code == 200
    assert strip(known).replace("139****5678", "") == strip(unknown).replace("137****0009", "")
    last_code(live.settings.data_dir, PHONE)  # sent once the page had answered
    assert [m["phone"] for m in outbox(live.settings.data_dir)] == [PHONE]
    # A guess meets "wrong code", as it would for a number with an account.
    wrong = await post(other, unknown, "/login/recover", code="123456")
    assert wrong.status_code == 400 and "验证码不正确" in wrong.text
    # And a username that is not the number's holder is as unknown as the number.
    third = Browser(live.url)
    try:
        page = await recovery_page(third, url)
        await post(third, page, "/login/recover/send", phone=PHONE, username="li")
    finally:
        await third.close()
    assert len(outbox(live.settings.data_dir)) == 1


async def test_a_failing_vendor_gives_known_and_unknown_numbers_the_same_answer(
    settings_for,
) -> None:
    dead = f"http://127.0.0.1:{free_port()}/sms"
    with running_gateway(
        settings_for, sms_backend="http", sms_http_url=dead, sms_http_secret="s3cret"
    ) as live:
        async with second_instance(live.settings) as admin:
            account = await admin.accounts.create_local(username="wang", password=PASSWORD)
            await give_phone(admin, account.id, PHONE)
            tax = await admin.clients.register(name="税务服务", redirect_uris=[CALLBACK])
        url = authorize_url(live.url, tax.client.client_id)
        answers = []
        for phone in (PHONE, "13700000009"):
            browser = Browser(live.url)
            try:
                page = await recovery_page(browser, url)
                answers.append(await post(browser, page, "/login/recover/send", phone=phone))
            finally:
                await browser.close()
        known, unknown = answers
        assert known.status_code == unknown.status_code == 200
        assert "发送失败" not in known.text
        varying = {"date", "set-cookie", "content-length", "x-request-id"}
        assert {k: v for k, v in known.headers.items() if k not in varying} == {
            k: v for k, v in unknown.headers.items() if k not in varying
        }
        assert [c.split("=")[0] for c in known.headers.get_list("set-cookie")] == [
            c.split("=")[0] for c in unknown.headers.get_list("set-cookie")
        ]
        strip = lambda page: page.text.replace(hidden(page.text, "tx"), "").replace(  # noqa: E731
            hidden(page.text, "csrf_token"), ""
        )
        assert strip(known).replace("139****5678", "") == strip(unknown).replace("137****0009", "")
        # The failure is not shown but audited, once the send in the background has failed.
        deadline = time.monotonic() + 15
        while "sms.failed" not in {e.event for e in await events(live.settings)}:
            assert time.monotonic() < deadline, "the failed send was not audited"
            await asyncio.sleep(0.2)


async def test_the_password_rules_apply_and_nothing_changes_on_a_refusal(city) -> None:
    live, _, tax, (browser, _) = city
    url = authorize_url(live.url, tax.client.client_id)
    page = await recovery_page(browser, url)
    sent = await post(browser, page, "/login/recover/send", phone=PHONE)
    verified = await post(
        browser, sent, "/login/recover", code=last_code(live.settings.data_dir, PHONE)
    )
    short = await post(
        browser, verified, "/login/recover/reset", password="short", password_confirm="short"
    )
    assert short.status_code == 400 and "至少 8 个字符" in short.text
    differ = await post(
        browser, verified, "/login/recover/reset", password=NEW_PASSWORD, password_confirm="x"
    )
    assert differ.status_code == 400
    still = await fresh_sign_in(live, url, PASSWORD)
    assert still.headers["location"].startswith(CALLBACK)


async def test_a_phone_alone_does_not_defeat_the_authenticator(city) -> None:
    live, account, tax, (browser, other) = city
    async with second_instance(live.settings) as admin:
        secret, _ = await admin.otp.begin(account.id, "wang")
        totp = pyotp.TOTP(secret)
        assert await admin.otp.verify(account.id, totp.now(), confirming=True)
        codes = await admin.recovery_codes.generate(account.id)
    url = authorize_url(live.url, tax.client.client_id)
    page = await recovery_page(browser, url)
    sent = await post(browser, page, "/login/recover/send", phone=PHONE)
    verified = await post(
        browser, sent, "/login/recover", code=last_code(live.settings.data_dir, PHONE)
    )
    assert 'name="second_factor"' in verified.text
    fields = {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD}
    missing = await post(browser, verified, "/login/recover/reset", **fields)
    assert missing.status_code == 400
    wrong = await post(
        browser, verified, "/login/recover/reset", second_factor="zzzz-zzzz", **fields
    )
    assert wrong.status_code == 400
    still = await other.go(url, username="wang", password=PASSWORD)
    assert still.headers["location"].startswith(CALLBACK)  # the old password stands
    done = await post(browser, verified, "/login/recover/reset", second_factor=codes[0], **fields)
    assert done.status_code == 200 and "密码已重置" in done.text
    async with second_instance(live.settings) as admin:
        assert await admin.recovery_codes.left(account.id) == 9
