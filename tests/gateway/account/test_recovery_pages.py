"""The account pages of recovery over real HTTP: changing the password (the current one asked,
other sessions ended with their apps told), changing the phone (codes to both numbers, or a
real-name check in place of the old one; never another account's number), and recovery codes
(shown once, each used once at the second step, a new set voiding the old)."""

from __future__ import annotations

import pyotp
import pytest

from tests.gateway.browser import Browser, hidden
from tests.gateway.helpers import second_instance
from tests.gateway.identity.test_access_policies import set_policy
from tests.gateway.recovery_flow import account_post, give_phone, post
from tests.gateway.sms_flow import forget_minute, last_code, outbox
from tests.gateway.sso import CALLBACK, authorize_url, code_of, exchange

PASSWORD = "correct horse battery"
PHONE, NEW_PHONE = "13912345678", "13600001111"


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


async def event_names(settings) -> list[str]:
    async with second_instance(settings) as admin:
        return [e.event for e in await admin.audit.query(limit=200)]


async def test_changing_the_password_ends_the_other_sessions(city, receiver) -> None:
    live, _, tax, (mine, other) = city
    url = authorize_url(live.url, tax.client.client_id)
    arrival = await other.go(url, username="wang", password=PASSWORD)
    assert (await exchange(live, tax, code_of(arrival))).status_code == 200
    page = await mine.go("/account/password", username="wang", password=PASSWORD)
    assert page.request.url.path == "/account/password"
    new = "another good passphrase"
    wrong = await account_post(
        mine, page, "/account/password", current="nope", password=new, password_confirm=new
    )
    assert wrong.status_code == 400 and "当前密码不正确" in wrong.text
    done = await account_post(
        mine, page, "/account/password", current=PASSWORD, password=new, password_confirm=new
    )
    assert done.status_code == 200 and "密码已修改" in done.text
    await receiver.wait_for(1)
    assert (
        "error=login_required" in (await other.http.get(url + "&prompt=none")).headers["location"]
    )
    still_mine = await mine.http.get(url + "&prompt=none")
    assert still_mine.headers["location"].startswith(CALLBACK)
    assert outbox(live.settings.data_dir)[-1]["template"] == "notice"
    names = await event_names(live.settings)
    assert "account.password_change_failed" in names and "account.password_changed" in names


async def test_changing_the_phone_needs_both_numbers(city) -> None:
    live, account, _, (mine, _) = city
    data_dir = live.settings.data_dir
    page = await mine.go("/account/phone", username="wang", password=PASSWORD)
    assert "139****5678" in page.text
    sent = await account_post(mine, page, "/account/phone", action="send", phone=NEW_PHONE)
    assert sent.status_code == 200 and 'name="code_old"' in sent.text
    old_code, new_code = last_code(data_dir, PHONE), last_code(data_dir, NEW_PHONE)
    wrong = await account_post(
        mine, sent, "/account/phone", action="change", code_new=new_code, code_old="000000"
    )
    assert wrong.status_code == 400
    assert "验证码已失效" in wrong.text  # the right one is spent: both are sent again
    await forget_minute(live, PHONE)
    await forget_minute(live, NEW_PHONE)
    sent = await account_post(mine, page, "/account/phone", action="send", phone=NEW_PHONE)
    old_code, new_code = last_code(data_dir, PHONE), last_code(data_dir, NEW_PHONE)
    done = await account_post(
        mine, sent, "/account/phone", action="change", code_new=new_code, code_old=old_code
    )
    assert done.status_code == 200 and "136****1111" in done.text
    async with second_instance(live.settings) as admin:
        assert await admin.phone_accounts.holder(NEW_PHONE) == account.id
        assert await admin.phone_accounts.holder(PHONE) is None
    notice = outbox(data_dir)[-1]
    assert notice["phone"] == PHONE and notice["template"] == "notice"
    assert "136****1111" in notice["text"]


async def test_another_accounts_number_is_refused_without_saying_whose(city) -> None:
    live, _, _, (mine, _) = city
    async with second_instance(live.settings) as admin:
        li = await admin.accounts.create_local(username="li", password=PASSWORD)
        await give_phone(admin, li.id, NEW_PHONE)
    page = await mine.go("/account/phone", username="wang", password=PASSWORD)
    sent = await account_post(mine, page, "/account/phone", action="send", phone=NEW_PHONE)
    assert sent.status_code == 409 and "该手机号无法绑定到您的账号" in sent.text
    assert outbox(live.settings.data_dir) == []


async def test_without_the_old_number_a_real_name_check_stands_in(city) -> None:
    live, account, _, (mine, _) = city
    async with second_instance(live.settings) as admin:
        outcome = await admin.real_name.raise_level(
            account, "id_pair", "张三", "11010519491231002X", "", "127.0.0.1"
        )
        assert outcome.result == "raised"
    page = await mine.go("/account/phone", username="wang", password=PASSWORD)
    fields = {"action": "real_name", "phone": NEW_PHONE, "name": "张三"}
    other = await account_post(
        mine, page, "/account/phone", national_id="440304199003072013", **fields
    )
    assert other.status_code == 400 and outbox(live.settings.data_dir) == []
    sent = await account_post(
        mine, page, "/account/phone", national_id="11010519491231002X", **fields
    )
    assert sent.status_code == 200 and 'name="code_old"' not in sent.text
    code = last_code(live.settings.data_dir, NEW_PHONE)
    done = await account_post(mine, sent, "/account/phone", action="change", code_new=code)
    assert done.status_code == 200
    async with second_instance(live.settings) as admin:
        assert await admin.phone_accounts.holder(NEW_PHONE) == account.id
        changed = await admin.audit.query(event="account.phone_changed")
    assert changed[0].details["proof"] == "real_name"


async def test_recovery_codes_are_shown_once_and_work_once(city) -> None:
    live, account, tax, (mine, other) = city
    page = await mine.go("/account/otp", username="wang", password=PASSWORD)
    secret = hidden(page.text, "csrf_token") and page.text.split('id="secret">')[1].split("<")[0]
    totp = pyotp.TOTP(secret.replace(" ", ""))
    shown = await account_post(mine, page, "/account/otp", action="confirm", code=totp.now())
    assert shown.status_code == 200 and shown.headers["cache-control"] == "no-store"
    codes = [c.split("</code>")[0] for c in shown.text.split("<code>")[1:]]
    assert len(codes) == 10 and len(set(codes)) == 10
    listed = await mine.http.get("/account/recovery-codes")
    assert codes[0] not in listed.text and "还剩 10 个" in listed.text

    async with second_instance(live.settings) as admin:
        await set_policy(admin, tax.client.client_id, {"mfa": True})
    url = authorize_url(live.url, tax.client.client_id)
    second = await other.go(url, username="wang", password=PASSWORD)
    assert second.request.url.path == "/login/otp" and "/login/otp/recovery" in second.text
    form = await other.http.get(f"/login/otp/recovery?tx={hidden(second.text, 'tx')}")
    wrong = await post(other, form, "/login/otp/recovery", code="zzzz-zzzz")
    assert wrong.status_code == 400
    used = await post(other, form, "/login/otp/recovery", code=codes[0].upper())
    assert used.status_code == 303
    arrival = await other.go(used.headers["location"])
    assert arrival.headers["location"].startswith(CALLBACK)
    token = await exchange(live, tax, code_of(arrival))
    from jose import jwt as jose_jwt

    assert "otp" in jose_jwt.get_unverified_claims(token.json()["id_token"])["amr"]
    third = Browser(live.url)
    try:
        again = await third.go(url, username="wang", password=PASSWORD)
        form = await third.http.get(f"/login/otp/recovery?tx={hidden(again.text, 'tx')}")
        reused = await post(third, form, "/login/otp/recovery", code=codes[0])
        assert reused.status_code == 400
    finally:
        await third.close()

    listed = await mine.http.get("/account/recovery-codes")
    assert "还剩 9 个" in listed.text
    fresh = await account_post(mine, listed, "/account/recovery-codes")
    new_codes = [c.split("</code>")[0] for c in fresh.text.split("<code>")[1:]]
    assert len(new_codes) == 10 and not set(new_codes) & set(codes)
    async with second_instance(live.settings) as admin:
        assert not await admin.recovery_codes.use(account.id, codes[1])  # the old set is void
        assert await admin.recovery_codes.use(account.id, new_codes[1])
    assert "account.recovery_codes_generated" in await event_names(live.settings)
