"""短信登录 that also registers, over real HTTP against a live gateway: the code read from the
development outbox (``DATA_DIR/sms-outbox.jsonl``), as a developer would."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text

from tests.gateway.browser import Browser, hidden
from tests.gateway.helpers import id_token_after, second_instance
from tests.gateway.sms_flow import (
    challenge_of,
    confirm,
    forget_minute,
    last_code,
    outbox,
    send,
    sign_in_by_sms,
    sms_page,
    solve,
)
from tests.gateway.sso import CALLBACK, authorize_url

PHONE = "13912345678"


@pytest.fixture
async def app(live_server):
    async with second_instance(live_server.settings) as admin:
        tax = await admin.clients.register(name="税务服务", redirect_uris=[CALLBACK])
    browser = Browser(live_server.url)
    try:
        yield live_server, tax, browser
    finally:
        await browser.close()


async def test_an_unknown_number_registers_and_a_known_one_signs_in(app) -> None:
    live, tax, browser = app
    data_dir = live.settings.data_dir
    url = authorize_url(live.url, tax.client.client_id, scope="openid")
    arrival = await sign_in_by_sms(browser, url, "+86 139-1234-5678", data_dir)
    assert arrival.status_code == 303 and arrival.headers["location"].startswith(CALLBACK)
    claims = await id_token_after(live.url, tax, arrival, CALLBACK)
    assert claims["amr"] == ["sms"] and claims["acr"] == "L1"
    [message] = outbox(data_dir)
    assert set(message) == {"time", "phone", "template", "code", "text"}
    assert message["phone"] == PHONE and re.fullmatch(r"\d{6}", message["code"])
    assert message["code"] in message["text"]

    async with second_instance(live.settings) as admin:
        account_id = await admin.phone_accounts.holder(PHONE)
        assert account_id is not None
        assert await admin.phone_accounts.agreements_of(account_id) == {
            "terms": live.settings.terms_version,
            "privacy": live.settings.privacy_version,
        }
        async with admin.database.engine.connect() as db:
            stored = (await db.execute(text("SELECT value FROM account_identifiers"))).scalars()
            assert all(PHONE not in value and "5678" not in value for value in stored)
            entries = (await db.execute(text("SELECT details FROM audit_events"))).scalars().all()
        assert PHONE not in str(entries) and "139****5678" in str(entries)

    # Again, in a new browser: the same account (the same sub), no second registration.
    await forget_minute(live, PHONE)
    again = Browser(live.url)
    try:
        arrival = await sign_in_by_sms(again, url, PHONE, data_dir)
    finally:
        await again.close()
    assert (await id_token_after(live.url, tax, arrival, CALLBACK))["sub"] == claims["sub"]


async def test_the_page_does_not_tell_who_has_an_account(app) -> None:
    live, tax, browser = app
    url = authorize_url(live.url, tax.client.client_id)
    await sign_in_by_sms(browser, url, PHONE, live.settings.data_dir)  # now registered
    await forget_minute(live, PHONE)

    async def code_page(phone: str) -> str:
        fresh = Browser(live.url)
        try:
            sent = await send(fresh, await sms_page(fresh, url), phone)
        finally:
            await fresh.close()
        assert sent.status_code == 200
        html = sent.text
        for name in ("tx", "csrf_token", "phone"):
            html = html.replace(hidden(html, name), "")
        return html.replace(phone[:3] + "****" + phone[-4:], "")

    assert await code_page(PHONE) == await code_page("13700001111")


async def test_codes_are_single_use_bound_to_the_transaction_and_tried_five_times(app) -> None:
    live, tax, browser = app
    data_dir = live.settings.data_dir
    url = authorize_url(live.url, tax.client.client_id)
    sent = await send(browser, await sms_page(browser, url), PHONE)
    code = last_code(data_dir, PHONE)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"

    # Another browser's transaction does not know this code.
    other = Browser(live.url)
    try:
        other_sent = await send(other, await sms_page(other, url), "13700001111")
        refused = await confirm(other, other_sent, "13700001111", code)
        assert refused.status_code == 400
    finally:
        await other.close()

    unagreed = await confirm(browser, sent, PHONE, code, agree=False)
    assert unagreed.status_code == 400 and "用户协议" in unagreed.text
    for _ in range(4):
        assert (await confirm(browser, sent, PHONE, wrong)).status_code == 400
    # The fifth try is the last one: a right code after five wrong ones is spent.
    assert (await confirm(browser, sent, PHONE, wrong)).status_code == 400
    spent = await confirm(browser, sent, PHONE, code)
    assert spent.status_code == 400 and "已失效" in spent.text


async def test_a_right_code_works_once(app) -> None:
    live, tax, browser = app
    url = authorize_url(live.url, tax.client.client_id)
    sent = await send(browser, await sms_page(browser, url), PHONE)
    code = last_code(live.settings.data_dir, PHONE)
    assert (await confirm(browser, sent, PHONE, code)).status_code == 303
    replay = await confirm(browser, sent, PHONE, code)
    assert replay.status_code != 303


async def test_a_bad_number_is_refused_and_nothing_is_sent(app) -> None:
    live, tax, browser = app
    page = await sms_page(browser, authorize_url(live.url, tax.client.client_id))
    for bad in ("12345678901", "1391234567", "+1 415 555 0100", "abc"):
        answer = await send(browser, page, bad)
        assert answer.status_code == 400 and "手机号" in answer.text
    assert outbox(live.settings.data_dir) == []


async def test_the_password_page_links_the_sms_form_without_scripts(app) -> None:
    live, tax, browser = app
    response = await browser.http.get(authorize_url(live.url, tax.client.client_id))
    while response.status_code in (302, 303):
        response = await browser.http.get(response.headers["location"])
    assert "密码登录" in response.text and "短信登录" in response.text
    assert f'href="/login/sms?tx={hidden(response.text, "tx")}"' in response.text


async def test_challenge_after_repeated_sends_then_a_solution_lets_it_through(app) -> None:
    live, tax, browser = app
    page = await sms_page(browser, authorize_url(live.url, tax.client.client_id))
    for number in ("13700000001", "13700000002"):
        assert (await send(browser, page, number)).status_code == 200
    asked = await send(browser, page, "13700000003")
    assert asked.status_code == 400
    challenge = challenge_of(asked.text)
    assert challenge is not None
    assert len(outbox(live.settings.data_dir)) == 2
    assert (await send(browser, asked, "13700000003", pow="1")).status_code == 400
    again = await send(browser, asked, "13700000003")
    salt, bits = challenge_of(again.text) or challenge
    passed = await send(browser, again, "13700000003", pow=solve(salt, bits))
    assert passed.status_code == 200, passed.text
    assert len(outbox(live.settings.data_dir)) == 3


async def test_a_number_gets_one_code_a_minute_with_retry_after(app) -> None:
    live, tax, browser = app
    url = authorize_url(live.url, tax.client.client_id)
    assert (await send(browser, await sms_page(browser, url), PHONE)).status_code == 200
    other = Browser(live.url)  # another browser, the same number
    try:
        refused = await send(other, await sms_page(other, url), PHONE)
    finally:
        await other.close()
    assert refused.status_code == 429
    assert 50 <= int(refused.headers["retry-after"]) <= 60
    assert "分钟后再试" in refused.text
    assert len(outbox(live.settings.data_dir)) == 1


async def test_a_failed_send_is_shown_audited_and_creates_nothing(settings_for) -> None:
    from tests.conftest import free_port, running_gateway

    dead = f"http://127.0.0.1:{free_port()}/sms"
    with running_gateway(
        settings_for, sms_backend="http", sms_http_url=dead, sms_http_secret="s3cret"
    ) as live:
        async with second_instance(live.settings) as admin:
            tax = await admin.clients.register(name="税务服务", redirect_uris=[CALLBACK])
        browser = Browser(live.url)
        try:
            page = await sms_page(browser, authorize_url(live.url, tax.client.client_id))
            failed = await send(browser, page, PHONE)
            assert failed.status_code == 502 and "发送失败" in failed.text
            # Nothing was sent, so the number may try again at once.
            assert (await send(browser, failed, PHONE)).status_code == 502
        finally:
            await browser.close()
        async with second_instance(live.settings) as admin:
            assert await admin.phone_accounts.holder(PHONE) is None
            async with admin.database.engine.connect() as db:
                events = (await db.execute(text("SELECT event FROM audit_events"))).scalars().all()
                accounts = (await db.execute(text("SELECT count(*) FROM accounts"))).scalar()
        assert "sms.failed" in events and accounts == 0


async def test_an_unverified_claim_gives_way_to_the_holder(app) -> None:
    live, tax, browser = app
    async with second_instance(live.settings) as admin:
        typed = await admin.accounts.create_local(
            username="wang", password="correct horse battery", phone=PHONE
        )
    url = authorize_url(live.url, tax.client.client_id, scope="openid")
    arrival = await sign_in_by_sms(browser, url, PHONE, live.settings.data_dir)
    async with second_instance(live.settings) as admin:
        holder = await admin.phone_accounts.holder(PHONE)
    assert holder is not None and holder != typed.id
    assert arrival.status_code == 303


async def test_a_disabled_account_is_not_signed_in_by_phone(app) -> None:
    live, tax, browser = app
    url = authorize_url(live.url, tax.client.client_id)
    await sign_in_by_sms(browser, url, PHONE, live.settings.data_dir)
    async with second_instance(live.settings) as admin:
        holder = await admin.phone_accounts.holder(PHONE)
        async with admin.database.engine.begin() as db:
            await db.execute(
                text("UPDATE accounts SET disabled = :yes WHERE id = :id"),
                {"yes": True, "id": holder},
            )
    await forget_minute(live, PHONE)
    other = Browser(live.url)
    try:
        refused = await sign_in_by_sms(other, url, PHONE, live.settings.data_dir)
    finally:
        await other.close()
    assert refused.status_code == 403 and "无法登录" in refused.text


async def test_two_browsers_registering_one_number_at_once_get_one_account(app) -> None:
    import asyncio

    live, tax, first = app
    url = authorize_url(live.url, tax.client.client_id, scope="openid")
    second = Browser(live.url)
    try:
        sent_first = await send(first, await sms_page(first, url), PHONE)
        code_first = last_code(live.settings.data_dir, PHONE)
        await forget_minute(live, PHONE)
        sent_second = await send(second, await sms_page(second, url), PHONE)
        code_second = last_code(live.settings.data_dir, PHONE)
        arrivals = await asyncio.gather(
            confirm(first, sent_first, PHONE, code_first),
            confirm(second, sent_second, PHONE, code_second),
        )
    finally:
        await second.close()
    assert [a.status_code for a in arrivals] == [303, 303]
    subs = {(await id_token_after(live.url, tax, a, CALLBACK))["sub"] for a in arrivals}
    assert len(subs) == 1


async def test_the_expiring_store_holds_no_number_in_clear(settings_for) -> None:
    import redis.asyncio as redis

    from tests.conftest import running_gateway

    with running_gateway(settings_for, "services") as live:
        async with second_instance(live.settings) as admin:
            tax = await admin.clients.register(name="税务服务", redirect_uris=[CALLBACK])
        browser = Browser(live.url)
        try:
            sent = await send(
                browser,
                await sms_page(browser, authorize_url(live.url, tax.client.client_id)),
                PHONE,
            )
            assert sent.status_code == 200
        finally:
            await browser.close()
        client = redis.from_url(live.settings.redis_url)
        try:
            keys = [k async for k in client.scan_iter(match=f"{live.settings.redis_prefix}*")]
            assert any(b"sms-code:" in k for k in keys)
            for key in keys:
                assert PHONE.encode() not in key
                if await client.type(key) == b"string":
                    assert PHONE.encode() not in (await client.get(key) or b"")
        finally:
            await client.aclose()
