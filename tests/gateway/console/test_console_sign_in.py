"""Signing in to the console through the gateway itself: authorization code + PKCE, the
second factor the console's policy asks for, the console's own session cookie, sign-out."""

from __future__ import annotations

import hashlib
import re
import time

import httpx
import pytest

from gateway.admin import roles
from gateway.admin.changes import CLI
from store import audit as audit_store
from store import kv_keys
from store.clock import FakeClock
from tests.conftest import running_gateway
from tests.gateway.admin.conftest import make_account
from tests.gateway.browser import hidden
from tests.gateway.console.conftest import Console, console_sign_in, enrol
from tests.gateway.helpers import second_instance


async def test_an_administrator_signs_in_with_the_second_factor(console: Console) -> None:
    http, answer = await console_sign_in(console, "root")
    try:
        assert answer.status_code == 200, answer.text
        assert answer.request.url.path == "/admin/"
        assert "管理控制台" in answer.text
    finally:
        await http.aclose()


async def test_the_console_cookie_is_strict_and_http_only(console: Console) -> None:
    seen: list[httpx.Response] = []
    http, answer = await console_sign_in(console, "east-admin", seen=seen)
    try:
        assert answer.request.url.path == "/admin/"
        cookies = [c for r in seen for c in r.headers.get_list("set-cookie")]
        console_cookie = next(c for c in cookies if c.startswith("yht_console="))
        attributes = [part.strip().lower() for part in console_cookie.split(";")]
        assert {"httponly", "samesite=strict", "path=/"} <= set(attributes)
        assert "secure" not in attributes  # the issuer is http here; under https it is Secure
    finally:
        await http.aclose()


async def test_an_account_that_administers_nothing_gets_no_console(console: Console) -> None:
    http, answer = await console_sign_in(console, "plain")
    try:
        assert answer.status_code == 403
        assert answer.request.url.path == "/admin/callback"
        assert "您的账号不是管理员" in answer.text
        again = await http.get("/admin/accounts")
        assert again.status_code == 303 and again.headers["location"].startswith("/admin/login")
    finally:
        await http.aclose()


def hidden_link(html: str) -> str:
    """The page's way back to the app."""
    found = re.search(r'<a[^>]* href="([^"]+/admin/callback[^"]*)"', html)
    assert found, html
    return found.group(1).replace("&amp;", "&")


async def test_an_administrator_without_a_second_factor_is_refused(console: Console) -> None:
    async with second_instance(console.live.settings) as services:
        assert await services.otp.remove(console.world.east_admin)
    http, answer = await console_sign_in(console, "east-admin")
    try:
        # The gateway's own denial page says why, and leads back to the console.
        assert answer.status_code == 403 and answer.request.url.path.startswith("/oauth/")
        back = hidden_link(answer.text)
        assert back.startswith(console.live.url + "/admin/callback?error=access_denied")
        refused = await http.get(back)
        assert refused.status_code == 403
        assert "要求第二因素" in refused.text
        assert (await http.get("/admin/")).status_code == 303
    finally:
        await http.aclose()


async def test_a_form_without_its_csrf_token_changes_nothing(console: Console) -> None:
    http, _ = await console_sign_in(console, "root")
    try:
        forged = await http.post(
            "/admin/departments", data={"id": "forged", "name": "伪造", "csrf_token": "x" * 43}
        )
        assert forged.status_code == 403
        missing = await http.get("/admin/departments/forged")
        assert missing.status_code == 404
    finally:
        await http.aclose()


async def test_signing_out_ends_the_console_and_the_sso_session(console: Console) -> None:
    http, landed = await console_sign_in(console, "root")
    try:
        csrf = hidden(landed.text, "csrf_token")
        out = await http.post("/admin/logout", data={"csrf_token": csrf})
        assert out.status_code == 303 and out.headers["location"].startswith("/oauth/logout?")
        after = await http.get(out.headers["location"])
        assert after.status_code in (302, 303)
        assert after.headers["location"].endswith("/admin/signed-out")
        assert (await http.get("/admin/")).status_code == 303
        # The SSO session ended too: signing in again asks for the password.
        again = await http.get("/admin/login")
        authorize = await http.get(again.headers["location"])
        assert authorize.headers["location"].startswith("/login")
    finally:
        await http.aclose()
    async with (
        second_instance(console.live.settings) as services,
        services.database.sessions() as session,
    ):
        events = await audit_store.query(session, actor=console.world.city_admin)
    assert {"console.signed_in", "console.signed_out"} <= {e.event for e in events}


async def test_the_console_session_ends_after_its_idle_time(settings_for) -> None:
    clock = FakeClock(time.time())
    with running_gateway(settings_for, clock=clock) as live:
        async with second_instance(live.settings) as services:
            root = await make_account(services, "root", None)
            await roles.grant_admin(services, CLI, root, ["admin:read", "admin:write"])
            found = Console(live, None, root, root)  # type: ignore[arg-type]
            found.codes["root"] = await enrol(services, root, "root")
        clock.advance(time.time() - clock.now())  # the authenticator app's time
        http, landed = await console_sign_in(found, "root")
        try:
            assert landed.request.url.path == "/admin/"
            clock.advance(live.settings.console_idle_seconds - 60)
            assert (await http.get("/admin/accounts")).status_code == 200
            clock.advance(live.settings.console_idle_seconds + 1)
            assert (await http.get("/admin/accounts")).status_code == 303
        finally:
            await http.aclose()


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)  # the live store, read here
async def test_the_store_holds_no_usable_token_of_a_console_session(console: Console) -> None:
    http, landed = await console_sign_in(console, "root")
    try:
        assert landed.status_code == 200
        secret = http.cookies["yht_console"]
        key = kv_keys.console_session(hashlib.sha256(secret.encode()).hexdigest())
        record = await console.live.services.expiring.get(key)
        assert record is not None
        assert b"eyJ" not in record and b"access_token" not in record  # sealed
        # A guessed cookie finds nothing.
        http.cookies.set("yht_console", secret[:-2] + ("AA" if secret[-2:] != "AA" else "BB"))
        assert (await http.get("/admin/")).status_code == 303
    finally:
        await http.aclose()


async def test_the_page_to_return_to_is_a_console_page(console: Console) -> None:
    # "/admin/../" passed the check that the target starts with /admin/, and browsers resolve
    # it (and its %2e%2e spelling) to another page of the gateway.
    http, _ = await console_sign_in(console, "root")
    try:
        for wanted, landed in (
            ("/admin/accounts?q=a", "/admin/accounts?q=a"),
            ("/admin/../oauth/authorize", "/admin/"),
            ("/admin/%2e%2e/%2E%2E/account/", "/admin/"),
            ("/admin/./..", "/admin/"),
            ("https://evil.example/admin/", "/admin/"),
        ):
            answer = await http.get("/admin/login", params={"next": wanted})
            assert answer.status_code == 303
            assert answer.headers["location"] == landed, wanted
    finally:
        await http.aclose()
