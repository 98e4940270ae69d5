"""我的数据 over real HTTP on both backends: the page shows identifiers masked, the download holds
them in full with which app received what, both need the person's session, and the download
and a withdrawn consent are audited."""

from __future__ import annotations

import json

from tests.gateway.browser import hidden
from tests.gateway.helpers import second_instance
from tests.gateway.sso import PASSWORD, authorize_url, code_of, exchange


async def test_my_data_page_masks_and_the_download_is_complete(world) -> None:
    live, health, browser = world["live"], world["health"], world["browser"]
    redirect = "https://health.example.gov.cn/cb"
    arrival = await browser.go(
        authorize_url(
            live.url,
            health.client.client_id,
            redirect_uri=redirect,
            scope="openid phone offline_access",
            prompt="consent",
        ),
        username="wang",
        password=PASSWORD,
    )
    tokens = await exchange(live, health, code_of(arrival), redirect_uri=redirect)
    assert "refresh_token" in tokens.json()
    page = await browser.http.get("/account/data")
    assert page.status_code == 200
    assert "138****8000" in page.text and "13800138000" not in page.text
    assert "医保服务" in page.text and "手机号码" in page.text, "the app and what it received"
    download = await browser.http.get("/account/data.json")
    assert download.status_code == 200
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.headers["cache-control"] == "no-store"
    data = json.loads(download.text)
    assert data["account"]["username"] == "wang" and data["account"]["phone"] == "13800138000"
    (app,) = [a for a in data["apps"] if a["client_id"] == health.client.client_id]
    assert app["scopes"] == ["offline_access", "openid", "phone"]
    assert "phone_number" in app["claims"] and app["refresh_tokens"] == 1
    assert any(e["event"] == "login.succeeded" for e in data["security_events"])
    assert "password_hash" not in download.text

    # Withdrawn: audited, and gone from what the app holds.
    sessions = await browser.http.get("/account/sessions")
    consents_csrf = sessions.text.split('name="csrf_token" value="')[-1].split('"')[0]
    await browser.http.post(
        "/account/consents",
        data={"client_id": health.client.client_id, "csrf_token": consents_csrf},
    )
    after = json.loads((await browser.http.get("/account/data.json")).text)
    (app,) = [a for a in after["apps"] if a["client_id"] == health.client.client_id]
    assert app["scopes"] == [] and app["refresh_tokens"] == 0
    async with second_instance(live.settings) as admin:
        events = {e.event: e for e in await admin.audit.query(actor=world["account"].id)}
    assert events["consent.revoked"].client_id == health.client.client_id
    assert "account.data_exported" in events

    browser.http.cookies.clear()
    for path in ("/account/data", "/account/data.json", "/account/close", "/account"):
        response = await browser.http.get(path)
        assert response.status_code == 303 and response.headers["location"].startswith("/login")


async def test_the_language_chosen_on_one_page_is_kept_on_the_next(world) -> None:
    live, tax, browser = world["live"], world["tax"], world["browser"]
    first = await browser.http.get(authorize_url(live.url, tax.client.client_id))
    login = await browser.http.get(first.headers["location"])
    assert login.headers["content-language"] == "zh-CN"
    english = await browser.http.get(f"{first.headers['location']}&ui_locales=en")
    assert english.headers["content-language"] == "en"
    posted = await browser.http.post(
        "/login",
        data={
            "tx": hidden(english.text, "tx"),
            "csrf_token": hidden(english.text, "csrf_token"),
            "username": "wang",
            "password": "wrong",
        },
    )
    assert posted.headers["content-language"] == "en" and "not correct" in posted.text
    assert 'autofocus aria-describedby="form-error"' in posted.text.split('id="password"')[1]
