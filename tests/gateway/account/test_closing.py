"""注销 over real HTTP on both backends: the person's identifiers gone from every table (plain
and blind-indexed), the apps told by back-channel logout, the audit log under a pseudonym, and
an enterprise's representative kept from closing."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import httpx
import pytest
import sqlalchemy as sa
from jose import jwt as jose_jwt

from gateway.identity.pii import PiiVault
from store.identities import IdentityStore
from store.records import LinkedIdentity
from store.tables import AccountRow, AuditEventRow, Base
from tests.gateway.browser import Browser, hidden
from tests.gateway.helpers import second_instance
from tests.gateway.sms_flow import forget_minute, last_code, sign_in_by_sms

PASSWORD = "correct horse battery"
TAX_CB = "https://tax.example.gov.cn/cb"
HEALTH_CB = "https://health.example.gov.cn/cb"
PERSON = {
    "username": "zhaomin2026",
    "name": "赵敏秀",
    "email": "zhaomin.2026@example.gov.cn",
    "phone": "13912345678",
}
NATIONAL_ID = "11010519491231002X"
DEPARTMENT_LOGIN = "zhaomin.tax-bureau"


def _url(
    base: str, client_id: str, redirect_uri: str, scope: str = "openid", prompt: str = "consent"
) -> str:
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": scope,
        "state": "st",
        "prompt": prompt,
    }
    return f"{base}/oauth/authorize?{urlencode(query)}"


async def _tokens(live, browser: Browser, registered, redirect_uri: str, scope: str) -> dict:
    arrival = await browser.go(
        _url(live.url, registered.client.client_id, redirect_uri, scope),
        username=PERSON["username"],
        password=PASSWORD,
    )
    async with httpx.AsyncClient(base_url=live.url) as http:
        response = await http.post(
            "/oauth/token",
            data={
                "grant_type": "authorization_code",
                "redirect_uri": redirect_uri,
                "code": httpx.URL(arrival.headers["location"]).params["code"],
            },
            auth=(registered.client.client_id, registered.client_secret),
        )
    assert response.status_code == 200, response.text
    return response.json()


async def _table_text(admin) -> str:
    """Every row of every table, as text."""
    lines = []
    async with admin.database.sessions() as session:
        for table in Base.metadata.sorted_tables:
            for row in (await session.execute(sa.select(table))).all():
                lines.append(
                    f"{table.name}: {json.dumps([str(v) for v in row], ensure_ascii=False)}"
                )
    return "\n".join(lines)


async def test_closing_erases_the_person_and_tells_every_app(live_server, receiver) -> None:
    live = live_server
    async with second_instance(live.settings) as admin:
        account = await admin.accounts.create_local(password=PASSWORD, **PERSON)
        await admin.federation.register_identifiers(account.id, {"national_id": NATIONAL_ID})
        vault = PiiVault(admin.master_key)
        await IdentityStore(admin.database).link(  # a department login, as federation keeps it
            LinkedIdentity(
                "tax-ldap",
                DEPARTMENT_LOGIN,
                account.id,
                1.0,
                1.0,
                vault.seal_json(json.dumps({"name": PERSON["name"]})),
            ),
            [],
        )
        tax = await admin.clients.register(
            name="税务", redirect_uris=[TAX_CB], backchannel_logout_uri=receiver.uri("tax")
        )
        health = await admin.clients.register(
            name="医保",
            redirect_uris=[HEALTH_CB],
            require_consent=True,
            grant_types=["authorization_code", "refresh_token"],
            backchannel_logout_uri=receiver.uri("health"),
        )
    blind = [
        vault.blind_index("phone", PERSON["phone"]),
        vault.blind_index("email", PERSON["email"]),
        vault.blind_index("national_id", NATIONAL_ID),
    ]
    before = await _table_text(admin)
    assert PERSON["username"] in before and DEPARTMENT_LOGIN in before and blind[2] in before

    # Health holds an offline grant from a session that has ended; tax is used in a live one.
    elsewhere = Browser(live.url)
    offline = await _tokens(live, elsewhere, health, HEALTH_CB, "openid profile offline_access")
    page = await elsewhere.http.get("/account/sessions")
    ended = await elsewhere.http.post(
        "/account/sessions",
        data={"csrf_token": hidden(page.text, "csrf_token"), "sid": hidden(page.text, "sid")},
    )
    assert ended.status_code == 200
    await receiver.wait_for(1)
    browser = Browser(live.url)
    await _tokens(live, browser, tax, TAX_CB, "openid")

    page = await browser.http.get("/account/close")
    assert page.status_code == 200 and "注销账号" in page.text
    refused = await browser.http.post(
        "/account/close",
        data={
            "csrf_token": hidden(page.text, "csrf_token"),
            "action": "close",
            "password": "not the password",
            "understood": "yes",
        },
    )
    assert refused.status_code == 400 and "账号未注销" in refused.text
    closed = await browser.http.post(
        "/account/close",
        data={
            "csrf_token": hidden(page.text, "csrf_token"),
            "action": "close",
            "password": PASSWORD,
            "understood": "yes",
        },
    )
    assert closed.status_code == 200 and "账号已注销" in closed.text
    await receiver.wait_for(3)

    # Every app was told: tax for its live session (sid), health by subject alone.
    tokens = {path: jose_jwt.get_unverified_claims(token) for path, token in receiver.received[1:]}
    assert set(tokens) == {"/tax/bcl", "/health/bcl"}
    assert "sid" in tokens["/tax/bcl"] and "sid" not in tokens["/health/bcl"]
    assert (
        tokens["/health/bcl"]["sub"] == jose_jwt.get_unverified_claims(offline["id_token"])["sub"]
    )
    async with httpx.AsyncClient(base_url=live.url) as http:
        refreshed = await http.post(
            "/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": offline["refresh_token"]},
            auth=(health.client.client_id, health.client_secret),
        )
        assert refreshed.json()["error"] == "invalid_grant"
        info = await http.get(
            "/oauth/userinfo", headers={"Authorization": f"Bearer {offline['access_token']}"}
        )
        assert info.status_code == 401

    async with second_instance(live.settings) as admin:
        after = await _table_text(admin)
        for value in [*PERSON.values(), NATIONAL_ID, DEPARTMENT_LOGIN, *blind]:
            assert value not in after, f"{value} still in the database"
        async with admin.database.sessions() as session:
            row = await session.get(AccountRow, account.id)
            assert row is not None and row.disabled and row.username.startswith("closed-")
            mine = await session.scalars(
                sa.select(AuditEventRow).where(
                    sa.or_(AuditEventRow.actor == account.id, AuditEventRow.target == account.id)
                )
            )
            assert list(mine) == []
        (closing,) = await admin.audit.query(event="account.closed")
        pseudonym = closing.actor
        assert pseudonym.startswith("pseudonym:") and account.id not in pseudonym
        earlier = await admin.audit.query(actor=pseudonym, limit=1000)
        assert any(e.event.startswith("login") for e in earlier), "the sign-ins, pseudonymised"
        # The log stays append-only for everything else.
        with pytest.raises(Exception, match="append-only"):
            async with admin.database.transaction() as session:
                await session.execute(
                    sa.update(AuditEventRow)
                    .where(AuditEventRow.actor == pseudonym)
                    .values(event="tampered")
                )
    gone = await browser.http.get("/account")
    assert gone.status_code == 303 and gone.headers["location"].startswith("/login")
    stranger = Browser(live.url)
    again = await stranger.go(
        _url(live.url, tax.client.client_id, TAX_CB),
        username=PERSON["username"],
        password=PASSWORD,
    )
    assert "用户名或密码不正确" in again.text
    for b in (browser, elsewhere, stranger):
        await b.close()


async def test_an_sms_account_closes_with_a_code_and_a_representative_cannot(
    live_server,
) -> None:
    live = live_server
    phone = "13712345678"
    async with second_instance(live.settings) as admin:
        app = await admin.clients.register(name="市民服务", redirect_uris=[TAX_CB])
    browser = Browser(live.url)
    arrival = await sign_in_by_sms(
        browser,
        _url(live.url, app.client.client_id, TAX_CB, prompt="login"),
        phone,
        live.settings.data_dir,
    )
    assert "code" in httpx.URL(arrival.headers["location"]).params
    page = await browser.http.get("/account/close")
    assert "密码" not in page.text.split("<form")[-1], "no password to give"
    form = {"csrf_token": hidden(page.text, "csrf_token"), "action": "send"}
    too_soon = await browser.http.post("/account/close", data=form)
    assert too_soon.status_code == 429 and too_soon.headers["Retry-After"]
    await forget_minute(live, phone)  # one code a minute per number, as for signing in
    sent = await browser.http.post("/account/close", data=form)
    assert sent.status_code == 200 and "137****5678" in sent.text
    code = last_code(live.settings.data_dir, phone)

    async with second_instance(live.settings) as admin:
        person_id = await admin.phone_accounts.holder(phone)
        person = await admin.accounts.get(person_id)
        acme = await admin.accounts.create_local(username="acme-co", password=PASSWORD)
        async with admin.database.transaction() as session:
            await session.execute(
                sa.update(AccountRow).where(AccountRow.id == acme.id).values(kind="legal_person")
            )
        acme = await admin.accounts.get(acme.id)
        delegation = await admin.delegations.appoint(
            acme, person, "representative", [], None, actor="city-admin", actor_position=None
        )
    blocked = await browser.http.get("/account/close")
    assert "法定代表人" in blocked.text and 'name="code"' not in blocked.text
    refused = await browser.http.post(
        "/account/close",
        data={
            "csrf_token": hidden(page.text, "csrf_token"),
            "action": "close",
            "code": code,
            "understood": "yes",
        },
    )
    assert refused.status_code == 409 and "法定代表人" in refused.text
    async with second_instance(live.settings) as admin:
        await admin.delegations.revoke(delegation.id, actor="city-admin", actor_position=None)
    closed = await browser.http.post(
        "/account/close",
        data={
            "csrf_token": hidden(page.text, "csrf_token"),
            "action": "close",
            "code": code,
            "understood": "yes",
        },
    )
    assert closed.status_code == 200 and "账号已注销" in closed.text
    async with second_instance(live.settings) as admin:
        assert await admin.phone_accounts.holder(phone) is None
        assert phone not in await _table_text(admin)
    await browser.close()
