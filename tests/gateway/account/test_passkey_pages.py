"""The passkey pages over HTTP with a software authenticator and a fake clock: forms need their
CSRF token, adding or removing needs a recent sign-in, a refused answer is shown and audited,
and a passkey sign-in reaches the app with the passkey's amr."""

from __future__ import annotations

import html
import re
import time

import pytest
from jose import jwt as jose_jwt

from gateway.server.app import create_app
from store import client_policies
from store.clock import FakeClock
from tests.conftest import _ThreadedServer, free_port
from tests.gateway.browser import Browser, hidden
from tests.gateway.helpers import second_instance
from tests.gateway.identity.test_access_policies import CALLBACK, PASSWORD, authorize_url, exchange
from tests.gateway.soft_authenticator import SoftAuthenticator

PAGE = "/account/passkeys"


@pytest.fixture
async def city(settings_for):
    port = free_port()
    base = f"http://localhost:{port}"
    settings = settings_for("embedded", issuer=base)
    clock = FakeClock(time.time())
    server = _ThreadedServer(create_app(settings, clock), port)
    server.start()
    try:
        async with second_instance(settings) as admin:
            await admin.accounts.create_local(username="zhao", password=PASSWORD, name="赵敏")
            app = await admin.clients.register(name="财政审批", redirect_uris=[CALLBACK])
            async with admin.database.transaction() as session:
                await client_policies.put_policy(
                    session, app.client.client_id, {"mfa": True}, None, 0
                )
        yield base, settings, clock, app
    finally:
        server.stop()


def options_in(page: str) -> str:
    found = re.search(r'<script type="application/json" id="passkey-options">(.*?)</script>', page)
    assert found, "no passkey options on the page"
    return found.group(1)


def passkey_form(page: str) -> str:
    return page.split('id="passkey-form"', 1)[1].split("</form>", 1)[0]


async def events(settings) -> list[str]:
    async with second_instance(settings) as admin:
        return [e.event for e in await admin.audit.query(limit=200)]


async def test_account_page_rules_and_a_passkey_sign_in(city) -> None:
    base, settings, clock, app = city
    authenticator = SoftAuthenticator(base)
    browser = Browser(base)
    try:
        page = await browser.go(PAGE, username="zhao", password=PASSWORD)
        assert page.status_code == 200 and page.request.url.path == PAGE
        csrf = hidden(page.text, "csrf_token")
        answer = authenticator.create(html.unescape(options_in(page.text)))
        forged = await browser.http.post(
            PAGE, data={"action": "add", "credential": answer, "name": "x", "csrf_token": "no"}
        )
        assert forged.status_code != 303
        added = await browser.http.post(
            PAGE,
            data={"action": "add", "credential": answer, "name": "书房电脑", "csrf_token": csrf},
        )
        assert added.status_code == 303
        listed = await browser.http.get(PAGE)
        assert "书房电脑" in listed.text
        credential_id = hidden(listed.text, "credential_id")

        # Ten minutes on, removing (or adding) asks for a sign-in first.
        clock.advance(601)
        stale = await browser.http.get(PAGE)
        assert (
            'id="passkey-options"' not in stale.text
            and "script-src 'none'" in stale.headers["content-security-policy"]
        )
        refused = await browser.http.post(
            PAGE, data={"action": "remove", "credential_id": credential_id, "csrf_token": csrf}
        )
        assert refused.status_code == 303 and refused.headers["location"].startswith("/login?tx=")
        assert "书房电脑" in (await browser.http.get(PAGE)).text

    finally:
        await browser.close()

    # Another browser, no session: the app needs MFA, and a passkey with user verification is
    # enough (no authenticator-app step).
    browser = Browser(base)
    try:
        login = await browser.go(authorize_url(base, app.client.client_id))
        assert login.request.url.path == "/login"
        form = passkey_form(login.text)
        fields = {"tx": hidden(form, "tx"), "csrf_token": hidden(form, "csrf_token")}
        bad = await browser.http.post("/login/passkey", data={**fields, "credential": "{}"})
        assert bad.status_code == 400 and "无法使用该通行密钥" in bad.text
        fresh = passkey_form(bad.text)  # the page again, with a new challenge
        options = html.unescape(options_in(bad.text))
        signed = await browser.http.post(
            "/login/passkey",
            data={
                "tx": hidden(fresh, "tx"),
                "csrf_token": hidden(fresh, "csrf_token"),
                "credential": authenticator.get(options),
            },
        )
        assert signed.status_code == 303
        arrival = await browser.go(signed.headers["location"])
        claims = jose_jwt.get_unverified_claims((await exchange(base, app, arrival))["id_token"])
        assert claims["amr"] == ["hwk", "user"] and claims["acr"] == "L1"

        # That sign-in was recent: removal works now.
        csrf = hidden((await browser.http.get(PAGE)).text, "csrf_token")
        removed = await browser.http.post(
            PAGE, data={"action": "remove", "credential_id": credential_id, "csrf_token": csrf}
        )
        assert removed.status_code == 303 and removed.headers["location"] == PAGE
        assert "书房电脑" not in (await browser.http.get(PAGE)).text
    finally:
        await browser.close()
    seen = await events(settings)
    for event in ("account.passkey_added", "account.passkey_removed", "login.passkey_failed"):
        assert event in seen, event
    assert "login.succeeded" in seen
