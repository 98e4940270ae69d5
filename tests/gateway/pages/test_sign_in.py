"""The sign-in page over real HTTP on both backends: generic errors, lockout, CSRF and languages."""

from __future__ import annotations

import asyncio

import httpx

from tests.gateway.browser import Browser, hidden
from tests.gateway.helpers import second_instance
from tests.gateway.sso import (
    PASSWORD,
    authorize_url,
    second_app,
)


async def test_sign_in_errors_are_generic_and_lock_out(world) -> None:
    live, tax = world["live"], world["tax"]
    browser = world["browser"]
    url = authorize_url(live.url, tax.client.client_id)
    page = await browser.go(url)

    async def attempt(username: str, password: str) -> httpx.Response:
        form = {
            "tx": hidden(page.text, "tx"),
            "csrf_token": hidden(page.text, "csrf_token"),
            "username": username,
            "password": password,
        }
        return await browser.http.post("/login", data=form)

    wrong = await attempt("wang", "not it")
    unknown = await attempt("nobody-here", "not it")
    assert wrong.status_code == unknown.status_code == 400
    message = "用户名或密码不正确"
    assert message in wrong.text and message in unknown.text
    assert "set-cookie" not in wrong.headers or "yht_session" not in wrong.headers["set-cookie"]
    for _ in range(4):  # five wrong passwords for "wang" in all
        await attempt("wang", "still not")
    locked = await attempt("WANG", PASSWORD)
    assert locked.status_code == 429
    assert 0 < int(locked.headers["retry-after"]) <= 900
    assert "尝试次数过多" in locked.text


async def test_sign_in_needs_the_csrf_token_of_this_browser(world) -> None:
    live, tax, browser = world["live"], world["tax"], world["browser"]
    page = await browser.go(authorize_url(live.url, tax.client.client_id))
    form = {"tx": hidden(page.text, "tx"), "username": "wang", "password": PASSWORD}
    forged = await browser.http.post("/login", data={**form, "csrf_token": "forged"})
    assert forged.status_code == 400 and "yht_session" not in forged.headers.get("set-cookie", "")
    stranger = Browser(live.url)
    try:
        other = await stranger.http.post(
            "/login", data={**form, "csrf_token": hidden(page.text, "csrf_token")}
        )
        assert other.status_code == 400
    finally:
        await stranger.close()
    ok = await browser.http.post(
        "/login", data={**form, "csrf_token": hidden(page.text, "csrf_token")}
    )
    assert ok.status_code == 303
    cookie = ok.headers["set-cookie"]
    assert (
        "yht_session=" in cookie
        and "HttpOnly" in cookie
        and "SameSite=lax" in cookie.replace("Lax", "lax")
    )
    assert "Path=/" in cookie


async def test_login_page_languages(world) -> None:
    live, tax, browser = world["live"], world["tax"], world["browser"]
    chinese = await browser.go(authorize_url(live.url, tax.client.client_id))
    assert '<html lang="zh-CN">' in chinese.text and "登录" in chinese.text
    assert 'autocomplete="username"' in chinese.text
    assert 'autocomplete="current-password"' in chinese.text
    assert "税务服务" in chinese.text
    english = await browser.go(authorize_url(live.url, tax.client.client_id, ui_locales="en-US"))
    assert '<html lang="en">' in english.text and "Sign in" in english.text
    browser.http.headers["Accept-Language"] = "en-GB,en;q=0.9,zh;q=0.5"
    accepted = await browser.go(authorize_url(live.url, tax.client.client_id))
    assert "Sign in" in accepted.text
    headers = accepted.headers
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"


async def test_parallel_guesses_cannot_outrun_the_lockout(world) -> None:
    live, tax, browser = world["live"], world["tax"], world["browser"]
    page = await browser.go(authorize_url(live.url, tax.client.client_id))
    form = {
        "tx": hidden(page.text, "tx"),
        "csrf_token": hidden(page.text, "csrf_token"),
        "username": "wang",
    }
    answers = await asyncio.gather(
        *(browser.http.post("/login", data={**form, "password": f"guess {i}"}) for i in range(20))
    )
    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(400) == 5, "five passwords checked, no more"
    assert statuses.count(429) == 15


async def test_a_post_whose_transaction_ended_is_no_attempt(world) -> None:
    """The attempt is counted while the transaction is read; a transaction that is gone takes
    the count back, since no password was tried."""
    live, tax, browser = world["live"], world["tax"], world["browser"]
    page = await browser.go(authorize_url(live.url, tax.client.client_id))
    gone = "a-transaction-that-never-was"
    async with second_instance(live.settings) as other:
        token = other.csrf.token(browser.http.cookies["yht_browser"], f"login:{gone}")
    for i in range(8):  # beyond the five wrong passwords that lock an account out
        answer = await browser.http.post(
            "/login",
            data={"tx": gone, "csrf_token": token, "username": "wang", "password": f"guess {i}"},
        )
        assert answer.status_code == 400 and "yht_session" not in answer.headers.get(
            "set-cookie", ""
        )
    signed_in = await browser.http.post(
        "/login",
        data={
            "tx": hidden(page.text, "tx"),
            "csrf_token": hidden(page.text, "csrf_token"),
            "username": "wang",
            "password": PASSWORD,
        },
    )
    assert signed_in.status_code == 303


async def test_non_ascii_csrf_and_cookies_are_refused_cleanly(world) -> None:
    live, tax, browser = world["live"], world["tax"], world["browser"]
    page = await browser.go(authorize_url(live.url, tax.client.client_id))
    form = {"tx": hidden(page.text, "tx"), "username": "wang", "password": PASSWORD}
    bad_token = await browser.http.post("/login", data={**form, "csrf_token": "令牌"})
    assert bad_token.status_code == 400
    async with httpx.AsyncClient(base_url=live.url) as http:
        bad_cookie = await http.get(
            f"/login?tx={hidden(page.text, 'tx')}",
            headers={"Cookie": "yht_browser=浏览器; yht_session=会话.x".encode()},
        )
    assert bad_cookie.status_code == 400


async def test_a_new_person_signing_in_logs_the_old_one_out_of_front_channel_apps(world) -> None:
    live, browser = world["live"], world["browser"]
    kiosk = await second_app(world, frontchannel_logout_uri="https://office.example.gov.cn/fcl")
    async with second_instance(live.settings) as admin:
        await admin.accounts.create_local(username="dave", password=PASSWORD)
    office = "https://office.example.gov.cn/cb"
    await browser.go(
        authorize_url(live.url, kiosk.client.client_id, redirect_uri=office),
        username="wang",
        password=PASSWORD,
    )
    switched = await browser.go(
        authorize_url(live.url, kiosk.client.client_id, redirect_uri=office, prompt="login"),
        username="dave",
        password=PASSWORD,
    )
    assert switched.status_code == 200
    assert "https://office.example.gov.cn/fcl?iss=" in switched.text
    assert "/oauth/authorize/resume?tx=" in switched.text  # and then on to the app
