"""Lockout as a weapon: a stranger who types a person's name with wrong passwords locks the name,
but not the person's own browser, which holds a device cookie from an earlier sign-in (OWASP's
device cookies). Real HTTP against a live gateway on both backends."""

from __future__ import annotations

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import Response

from gateway.pages.device_cookies import COOKIE, DeviceCookies
from tests.gateway.browser import Browser, hidden
from tests.gateway.helpers import second_instance
from tests.gateway.sso import CALLBACK, PASSWORD, authorize_url

DAYS_180 = 180 * 86400


@pytest.fixture
async def town(live_server):
    """Two people with local accounts, and an app they sign in to."""
    async with second_instance(live_server.settings) as admin:
        await admin.accounts.create_local(username="wang", password=PASSWORD, name="王小明")
        await admin.accounts.create_local(username="li", password=PASSWORD, name="李雷")
        app = await admin.clients.register(name="税务服务", redirect_uris=[CALLBACK])
    browsers: list[Browser] = []

    def browser() -> Browser:
        browsers.append(Browser(live_server.url))
        return browsers[-1]

    try:
        yield live_server, app, browser
    finally:
        for each in browsers:
            await each.close()


async def sign_in(live, app, browser: Browser, username: str, password: str) -> httpx.Response:
    """A sign-in through the page, asked for even when the browser has a session."""
    return await browser.go(
        authorize_url(live.url, app.client.client_id, prompt="login"),
        username=username,
        password=password,
    )


def signed_in(response: httpx.Response) -> bool:
    return response.status_code == 303 and response.headers["location"].startswith(CALLBACK)


async def lock_out(live, app, stranger: Browser, username: str) -> None:
    """Five wrong passwords for the name, from a browser that never signed in to it."""
    page = await stranger.go(authorize_url(live.url, app.client.client_id))
    form = {"tx": hidden(page.text, "tx"), "csrf_token": hidden(page.text, "csrf_token")}
    for attempt in range(5):
        wrong = await stranger.http.post(
            "/login", data={**form, "username": username, "password": f"guess {attempt}"}
        )
        assert wrong.status_code == 400
    refused = await stranger.http.post(
        "/login", data={**form, "username": username, "password": PASSWORD}
    )
    assert refused.status_code == 429, "the name is locked for this browser"


async def test_the_owner_still_signs_in_while_a_stranger_has_locked_the_name(town) -> None:
    live, app, browser = town
    owner = browser()
    page = await owner.go(authorize_url(live.url, app.client.client_id))
    form = {"tx": hidden(page.text, "tx"), "csrf_token": hidden(page.text, "csrf_token")}
    first = await owner.http.post("/login", data={**form, "username": "wang", "password": PASSWORD})
    assert first.status_code == 303
    cookie = owner.http.cookies.get(COOKIE)
    assert cookie and "wang" not in cookie.lower(), "the cookie does not name the account"
    header = next(h for h in first.headers.get_list("set-cookie") if h.startswith(COOKIE + "="))
    attributes = {part.strip().lower() for part in header.split(";")[1:]}
    assert {"httponly", "samesite=lax", "path=/", f"max-age={DAYS_180}"} <= attributes
    assert "secure" not in attributes, "the issuer is http here (Secure is tested below)"

    await lock_out(live, app, browser(), "wang")
    # The owner's browser, its session gone (another person used it), but its device cookie kept.
    owner.http.cookies.delete("yht_session")
    assert signed_in(await sign_in(live, app, owner, "WANG", PASSWORD))
    # A browser without the cookie is still refused, the right password or not.
    newcomer = await sign_in(live, app, browser(), "wang", PASSWORD)
    assert newcomer.status_code == 429
    # The owner's sign-in did not clear the stranger's count.
    assert (await sign_in(live, app, browser(), "wang", PASSWORD)).status_code == 429


async def test_a_device_cookie_that_fails_too_often_is_locked_on_its_own(town) -> None:
    live, app, browser = town
    laptop, phone = browser(), browser()
    for device in (laptop, phone):
        assert signed_in(await sign_in(live, app, device, "wang", PASSWORD))
    await lock_out(live, app, browser(), "wang")

    page = await laptop.go(authorize_url(live.url, app.client.client_id, prompt="login"))
    form = {"tx": hidden(page.text, "tx"), "csrf_token": hidden(page.text, "csrf_token")}
    for attempt in range(5):  # the laptop's cookie passes the name's lock, five times wrong
        wrong = await laptop.http.post(
            "/login", data={**form, "username": "wang", "password": f"typo {attempt}"}
        )
        assert wrong.status_code == 400
    locked = await laptop.http.post(
        "/login", data={**form, "username": "wang", "password": PASSWORD}
    )
    assert locked.status_code == 429 and "尝试次数过多" in locked.text
    assert signed_in(await sign_in(live, app, phone, "wang", PASSWORD)), "the phone's cookie"

    async with second_instance(live.settings) as admin:
        device_locked = await admin.audit.query(event="login.device_locked")
        locks = await admin.audit.query(event="login.locked")
    assert len(device_locked) == 1 and device_locked[0].details["provider"] == "local"
    assert any(e.details.get("device") == "locked" for e in locks)


async def test_a_device_cookie_of_another_name_or_a_forged_one_passes_nothing(town) -> None:
    live, app, browser = town
    other = browser()
    assert signed_in(await sign_in(live, app, other, "li", PASSWORD))
    await lock_out(live, app, browser(), "wang")
    assert (await sign_in(live, app, other, "wang", PASSWORD)).status_code == 429

    nonce, issued, mac = other.http.cookies[COOKIE].split(".")
    forgeries = [
        f"{nonce}.{issued}.{'A' * len(mac)}",  # a made-up MAC
        f"{nonce[::-1]}.{issued}.{mac}",  # another nonce under li's MAC
        f"{nonce}.{int(issued) + 1}.{mac}",  # another issue time
        f"{nonce}.{issued}.{mac}~{nonce}.{issued}.{mac[::-1]}",
    ]
    for forged in forgeries:
        forger = browser()
        forger.http.cookies.set(COOKIE, forged, domain="127.0.0.1", path="/")
        assert (await sign_in(live, app, forger, "wang", PASSWORD)).status_code == 429, forged


async def test_the_cookie_remembers_several_names_and_replaces_each_ones_entry(town) -> None:
    live, app, browser = town
    shared = browser()
    for username in ("wang", "li", "wang"):
        assert signed_in(await sign_in(live, app, shared, username, PASSWORD))
    entries = shared.http.cookies[COOKIE].split("~")
    assert len(entries) == 2, "one entry a name, the latest first"
    await lock_out(live, app, browser(), "li")
    assert signed_in(await sign_in(live, app, shared, "li", PASSWORD))


def _request(cookie: str = "") -> Request:
    headers = [(b"cookie", f"__Host-{COOKIE}={cookie}".encode())] if cookie else []
    return Request({"type": "http", "method": "POST", "path": "/login", "headers": headers})


def test_an_https_issuer_makes_it_a_secure_host_cookie_that_expires() -> None:
    key, now = b"k" * 32, 1_800_000_000.0
    devices = DeviceCookies(key, secure=True, max_age=DAYS_180, now=now)
    response = Response()
    devices.remember(_request(), response, "wang")
    header = response.headers["set-cookie"]
    assert header.startswith(f"__Host-{COOKIE}=")
    assert {"secure", "httponly", "samesite=lax", "path=/"} <= {
        part.strip().lower() for part in header.split(";")[1:]
    }
    value = header.split(";")[0].split("=", 1)[1]
    assert devices.device_for(_request(value), "wang") is not None
    assert devices.device_for(_request(value), "li") is None
    later = DeviceCookies(key, secure=True, max_age=DAYS_180, now=now + DAYS_180 + 1)
    assert later.device_for(_request(value), "wang") is None, "expired"
    off = DeviceCookies(key, secure=True, max_age=0, now=now)
    assert off.device_for(_request(value), "wang") is None
    silent = Response()
    off.remember(_request(), silent, "wang")
    assert "set-cookie" not in silent.headers, "YIHAOTONG_DEVICE_COOKIE_DAYS=0: none issued"
