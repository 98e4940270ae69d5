"""Per-app access end to end on a live gateway: denials that never yield a code, step-up
sign-in through a stronger department login, app roles in tokens, enterprise delegation
(grant, use, expiry, revocation) and the audit entries of each."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
import sqlalchemy as sa
from jose import jwt as jose_jwt
from sqlalchemy.ext.asyncio import create_async_engine

from providers.base import Identity
from store import client_policies, organisation, roles
from store.tables import AccountRow
from tests.gateway.browser import Browser, hidden
from tests.gateway.helpers import second_instance

CALLBACK = "https://tax.city.gov.cn/cb"
PASSWORD = "correct horse battery"


def authorize_url(base: str, client_id: str, **extra: str) -> str:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": CALLBACK,
        "scope": "openid profile",
        "state": "s-1",
        **extra,
    }
    return f"{base}/oauth/authorize?{urlencode(params)}"


async def exchange(base: str, registered, arrival: httpx.Response) -> dict:
    location = httpx.URL(arrival.headers["location"])
    assert "code" in location.params, arrival.headers["location"]
    async with httpx.AsyncClient(base_url=base) as http:
        response = await http.post(
            "/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": location.params["code"],
                "redirect_uri": CALLBACK,
            },
            auth=(registered.client.client_id, registered.client_secret),
        )
    assert response.status_code == 200, response.text
    return response.json()


async def refresh(base: str, registered, refresh_token: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=base) as http:
        return await http.post(
            "/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": refresh_token},
            auth=(registered.client.client_id, registered.client_secret),
        )


def claims(token: str) -> dict:
    return jose_jwt.get_unverified_claims(token)


async def set_account(admin, account_id: str, **values: object) -> None:
    async with admin.database.transaction() as session:
        await session.execute(
            sa.update(AccountRow).where(AccountRow.id == account_id).values(**values)
        )


async def set_policy(admin, client_id: str, document: dict) -> None:
    async with admin.database.transaction() as session:
        current = await client_policies.get_policy(session, client_id)
        version = current.version if current else None
        await client_policies.put_policy(session, client_id, document, version, 0.0)


@pytest.fixture
async def city(live_server):
    """A tax app, a citizen (li) and a member of the tax department's staff (zhao)."""
    async with second_instance(live_server.settings) as admin:
        app = await admin.clients.register(  # public: the tests read `sub` as the account
            name="税务办税", redirect_uris=[CALLBACK], subject_type="public"
        )
        li = await admin.accounts.create_local(username="li", password=PASSWORD, name="李雷")
        zhao = await admin.accounts.create_local(
            username="zhao", password=PASSWORD, name="赵敏", phone="13800138000"
        )
        async with admin.database.transaction() as session:
            await organisation.create_department(session, "city", "市政府", None, 0.0)
            await organisation.create_department(session, "tax", "市税务局", "city", 0.0)
            await organisation.create_department(session, "police", "市公安局", "city", 0.0)
        await set_account(admin, zhao.id, kind="staff", department_id="tax")
    return live_server, app, li, zhao


async def audit_events(live_server, event: str) -> list:
    async with second_instance(live_server.settings) as admin:
        return await admin.audit.query(event=event)


async def batched_audit_events(live_server, event: str) -> list:
    """Events written in batches (issued tokens, granted authorizations): within about half a
    second of the answer."""
    for _ in range(50):
        found = await audit_events(live_server, event)
        if found:
            return found
        await asyncio.sleep(0.1)
    return []


async def test_a_denied_person_never_receives_a_code(city) -> None:
    live, app, li, zhao = city
    async with second_instance(live.settings) as admin:
        await set_policy(admin, app.client.client_id, {"kinds": ["staff"], "departments": ["tax"]})
    browser = Browser(live.url)
    try:
        page = await browser.go(
            authorize_url(live.url, app.client.client_id), username="li", password=PASSWORD
        )
        assert page.status_code == 403
        assert "该应用不向您这一类账号开放" in page.text and "code=" not in page.text
        back = httpx.URL(
            page.text.split('class="button" href="')[1].split('"')[0].replace("&amp;", "&")
        )
        assert str(back).startswith(CALLBACK)
        assert back.params["error"] == "access_denied" and back.params["state"] == "s-1"
        assert back.params["iss"] == live.settings.issuer
        # Signed in already: asking again silently is refused the same way, still no code.
        again = await browser.http.get(authorize_url(live.url, app.client.client_id))
        assert again.status_code == 403 and "location" not in again.headers
        # With prompt=none no page may be shown: the app gets access_denied at once.
        silent = await browser.http.get(
            authorize_url(live.url, app.client.client_id, prompt="none")
        )
        assert silent.status_code == 303
        silent_to = httpx.URL(silent.headers["location"])
        assert silent_to.params["error"] == "access_denied" and "code" not in silent_to.params
    finally:
        await browser.close()

    allowed = Browser(live.url)
    try:
        arrival = await allowed.go(
            authorize_url(live.url, app.client.client_id), username="zhao", password=PASSWORD
        )
        tokens = await exchange(live.url, app, arrival)
        assert claims(tokens["id_token"])["department"] == "/city/tax"
    finally:
        await allowed.close()

    async with second_instance(live.settings) as admin:  # moved to another department
        await set_account(admin, zhao.id, department_id="police")
    moved = Browser(live.url)
    try:
        page = await moved.go(
            authorize_url(live.url, app.client.client_id, ui_locales="en"),
            username="zhao",
            password=PASSWORD,
        )
        assert page.status_code == 403 and "only for staff of certain departments" in page.text
    finally:
        await moved.close()
    denied = await audit_events(live, "authorize.denied")
    assert [(e.actor, e.check, e.outcome) for e in denied] == [
        (li.id, "kind", "denied"),
        (li.id, "kind", "denied"),
        (li.id, "kind", "denied"),
        (zhao.id, "department", "denied"),
    ]
    assert all(e.client_id == app.client.client_id and e.request_id for e in denied)


async def test_tokens_carry_only_this_apps_roles(city) -> None:
    live, app, li, zhao = city
    async with second_instance(live.settings) as admin:
        other = await admin.clients.register(name="公安", redirect_uris=["https://p.example/cb"])
        async with admin.database.transaction() as session:
            approver = await roles.create_role(
                session, "r1", app.client.client_id, "approver", "", 0
            )
            clerk = await roles.create_role(session, "r2", other.client.client_id, "clerk", "", 0)
            auditor = await roles.create_role(session, "r3", "", "auditor", "", 0)
            hidden_role = await roles.create_role(session, "r4", "", "internal", "", 0)
            for number, role in enumerate((approver, clerk, auditor, hidden_role)):
                await roles.assign(session, f"a{number}", role.id, zhao.id, "", "t", 0, None)
            await roles.assign(session, "a9", approver.id, li.id, "tax", "t", 0, None)
        await set_policy(
            admin,
            app.client.client_id,
            {"roles": ["approver"], "claims": {"global_roles": ["auditor"]}},
        )
    browser = Browser(live.url)
    try:
        arrival = await browser.go(
            authorize_url(live.url, app.client.client_id), username="zhao", password=PASSWORD
        )
        tokens = await exchange(live.url, app, arrival)
    finally:
        await browser.close()
    assert claims(tokens["id_token"])["roles"] == ["approver", "auditor"]
    assert claims(tokens["access_token"])["roles"] == ["approver", "auditor"]
    async with httpx.AsyncClient(base_url=live.url) as http:
        info = await http.get(
            "/oauth/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
    assert info.json()["roles"] == ["approver", "auditor"]

    scoped = Browser(live.url)  # li holds the app role only within the tax subtree
    try:
        arrival = await scoped.go(
            authorize_url(live.url, app.client.client_id), username="li", password=PASSWORD
        )
        li_claims = claims((await exchange(live.url, app, arrival))["id_token"])
    finally:
        await scoped.close()
    assert li_claims["roles"] == ["approver"]
    assert li_claims["role_scopes"] == {"approver": ["/city/tax"]}

    async with (
        second_instance(live.settings) as admin,  # the role is withdrawn
        admin.database.transaction() as session,
    ):
        await session.execute(sa.text("DELETE FROM role_assignments WHERE id = 'a0'"))
    answer = await refresh(live.url, app, tokens["refresh_token"])
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"
    revoked = await audit_events(live, "token.revoked")
    assert [e.details["reason"] for e in revoked] == ["access withdrawn (roles)"]


@pytest.fixture
async def social_department(tmp_path: Path, city) -> str:
    """A department's legacy users table whose logins are verified to L2."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'social.db'}"
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        await connection.execute(
            sa.text("CREATE TABLE members (id INTEGER PRIMARY KEY, login TEXT, pwd TEXT)")
        )
        await connection.execute(
            sa.text("INSERT INTO members VALUES (42, 'li-social', :pwd)"),
            {"pwd": hashlib.md5(b"s0cial-pass").hexdigest()},
        )
    await engine.dispose()
    live, _app, li, _zhao = city
    async with second_instance(live.settings) as admin:
        await admin.login_systems.add(
            "social",
            "legacy_sql",
            {
                "name": "市社保局",
                "url": url,
                "table": "members",
                "scheme": "md5",
                "columns": {"subject": "id", "username": "login", "password": "pwd"},
                "assurance": "L2",
            },
        )
        await admin.federation.link(Identity(provider_id="social", subject="42"), li.id, "test")
    return "social"


async def test_step_up_through_a_stronger_department_login_raises_acr(
    city, social_department
) -> None:
    live, app, li, _zhao = city
    async with second_instance(live.settings) as admin:
        await set_policy(admin, app.client.client_id, {"min_acr": "L2"})
    browser = Browser(live.url)
    try:
        page = await browser.go(
            authorize_url(live.url, app.client.client_id), username="li", password=PASSWORD
        )
        # Signed in at L1; the app needs L2: a sign-in page offering only the department.
        assert page.status_code == 200 and page.request.url.path == "/login"
        assert "需要更高等级的登录（L2）" in page.text
        assert 'value="local"' not in page.text and 'value="social"' in page.text
        arrival = await browser.http.post(
            "/login",
            data={
                "tx": hidden(page.text, "tx"),
                "csrf_token": hidden(page.text, "csrf_token"),
                "username": "li-social",
                "password": "s0cial-pass",
                "provider": "social",
            },
        )
        arrival = await browser.go(arrival.headers["location"])
        id_token = claims((await exchange(live.url, app, arrival))["id_token"])
        assert id_token["acr"] == "L2" and id_token["sub"] == li.id
    finally:
        await browser.close()
    stepped = await audit_events(live, "authorize.step_up")
    assert [(e.actor, e.details) for e in stepped] == [(li.id, {"from": "L1", "to": "L2"})]

    async with second_instance(live.settings) as admin:  # no department login reaches L3
        strict = await admin.clients.register(
            name="不动产登记", redirect_uris=[CALLBACK], subject_type="public"
        )
        await set_policy(admin, strict.client.client_id, {"min_acr": "L3"})
    browser = Browser(live.url)
    try:
        page = await browser.go(
            authorize_url(live.url, strict.client.client_id), username="li", password=PASSWORD
        )
        # A real-name check can: li is sent to that page instead of being refused.
        assert page.status_code == 200 and page.request.url.path == "/account/real-name"
    finally:
        await browser.close()


async def test_acr_values_ask_for_a_step_up_only_when_one_is_possible(
    city, social_department
) -> None:
    live, app, li, _zhao = city
    browser = Browser(live.url)
    try:
        page = await browser.go(
            authorize_url(live.url, app.client.client_id, acr_values="L2"),
            username="li",
            password=PASSWORD,
        )
        assert page.request.url.path == "/login" and 'value="social"' in page.text
        # Not taking the offer: the request goes on at the session's level (it was voluntary).
        declined = await browser.go(f"/oauth/authorize/resume?tx={hidden(page.text, 'tx')}")
        id_token = claims((await exchange(live.url, app, declined))["id_token"])
        assert id_token["acr"] == "L1" and id_token["sub"] == li.id
    finally:
        await browser.close()
    browser = Browser(live.url)
    try:  # zhao has no stronger way to sign in: acr_values is voluntary, so a code comes
        arrival = await browser.go(
            authorize_url(live.url, app.client.client_id, acr_values="L3 L2"),
            username="zhao",
            password=PASSWORD,
        )
        assert claims((await exchange(live.url, app, arrival))["id_token"])["acr"] == "L1"
    finally:
        await browser.close()


async def test_enterprise_delegation_grant_use_expiry_and_revocation(city) -> None:
    live, app, li, zhao = city
    async with second_instance(live.settings) as admin:
        acme = await admin.accounts.create_local(
            username="acme-co", password=PASSWORD, name="某某科技有限公司"
        )
        await set_account(admin, acme.id, kind="legal_person")
        acme = await admin.accounts.get(acme.id)
        await set_policy(admin, app.client.client_id, {"act_for": True})
        representative = await admin.delegations.appoint(
            acme, zhao, "representative", ["filer"], None, actor="city-admin", actor_position=None
        )
        staff = await admin.delegations.appoint(
            acme, li, "staff", ["filer"], None, actor=zhao.id, actor_position="representative"
        )
        with pytest.raises(Exception, match="cannot appoint"):
            await admin.delegations.appoint(
                acme, li, "administrator", [], None, actor=li.id, actor_position="staff"
            )
    assert representative.position == "representative"

    browser = Browser(live.url)
    try:
        page = await browser.go(
            authorize_url(live.url, app.client.client_id), username="li", password=PASSWORD
        )
        assert page.request.url.path == "/act-for" and "某某科技有限公司" in page.text
        assert "经办人" in page.text
        chosen = await browser.http.post(
            "/act-for",
            data={
                "tx": hidden(page.text, "tx"),
                "csrf_token": hidden(page.text, "csrf_token"),
                "act_for": acme.id,
            },
        )
        arrival = await browser.go(chosen.headers["location"])
        tokens = await exchange(live.url, app, arrival)
    finally:
        await browser.close()
    org = claims(tokens["id_token"])["org"]
    assert org == {
        "sub": acme.id,
        "name": "某某科技有限公司",
        "position": "staff",
        "roles": ["filer"],
    }
    assert claims(tokens["access_token"])["sub"] == li.id
    renewed = await refresh(live.url, app, tokens["refresh_token"])
    assert renewed.status_code == 200 and claims(renewed.json()["access_token"])["org"] == org

    async with second_instance(live.settings) as admin:
        await admin.delegations.revoke(staff.id, actor=zhao.id, actor_position="representative")
    refused = await refresh(live.url, app, renewed.json()["refresh_token"])
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"

    async with second_instance(live.settings) as admin:  # a delegation that runs out
        now = admin.clock.now()
        await admin.delegations.appoint(
            acme, li, "staff", [], now + 3, actor=zhao.id, actor_position="representative"
        )
    browser = Browser(live.url)
    try:
        page = await browser.go(
            authorize_url(live.url, app.client.client_id), username="li", password=PASSWORD
        )
        chosen = await browser.http.post(
            "/act-for",
            data={
                "tx": hidden(page.text, "tx"),
                "csrf_token": hidden(page.text, "csrf_token"),
                "act_for": acme.id,
            },
        )
        tokens = await exchange(live.url, app, await browser.go(chosen.headers["location"]))
    finally:
        await browser.close()
    await asyncio.sleep(max(0.0, now + 3.2 - live_clock()))
    expired = await refresh(live.url, app, tokens["refresh_token"])
    assert expired.status_code == 400 and expired.json()["error"] == "invalid_grant"

    granted = await audit_events(live, "delegation.*")
    assert [(e.event, e.actor, e.target) for e in granted] == [
        ("delegation.granted", "city-admin", zhao.id),
        ("delegation.granted", zhao.id, li.id),
        ("delegation.revoked", zhao.id, li.id),
        ("delegation.granted", zhao.id, li.id),
    ]
    authorized = await batched_audit_events(live, "authorize.granted")
    assert authorized
    assert any(e.details.get("act_for") == acme.id for e in authorized)
    logged = json.dumps([e.details for e in authorized + granted], ensure_ascii=False)
    assert "13800138000" not in logged


def live_clock() -> float:
    import time

    return time.time()


async def test_sign_ins_consents_and_tokens_are_in_the_audit_log(city) -> None:
    live, app, _li, zhao = city
    browser = Browser(live.url)
    try:
        page = await browser.go(
            authorize_url(live.url, app.client.client_id), username="zhao", password="wrong one"
        )
        assert page.status_code == 400
        arrival = await browser.http.post(
            "/login",
            data={
                "tx": hidden(page.text, "tx"),
                "csrf_token": hidden(page.text, "csrf_token"),
                "username": "zhao",
                "password": PASSWORD,
            },
        )
        tokens = await exchange(live.url, app, await browser.go(arrival.headers["location"]))
    finally:
        await browser.close()
    failed = await audit_events(live, "login.failed")
    assert [(e.outcome, e.check, e.details["username"]) for e in failed] == [
        ("failure", "bad_credentials", "zh*o")
    ]
    assert failed[0].ip == "127.0.0.1" and failed[0].client_id == app.client.client_id
    succeeded = await audit_events(live, "login.succeeded")
    assert [(e.actor, e.details["acr"]) for e in succeeded] == [(zhao.id, "L1")]
    issued = await batched_audit_events(live, "token.issued")
    assert [(e.actor, e.details["grant_type"]) for e in issued] == [(zhao.id, "authorization_code")]
    assert issued[0].details["jti"] == claims(tokens["access_token"])["jti"]


async def test_a_representative_appoints_and_revokes_staff_over_http(city) -> None:
    live, app, li, zhao = city
    async with second_instance(live.settings) as admin:
        acme = await admin.accounts.create_local(
            username="acme-co", password=PASSWORD, name="某公司"
        )
        await set_account(admin, acme.id, kind="legal_person")
        acme = await admin.accounts.get(acme.id)
        await admin.delegations.appoint(
            acme, zhao, "representative", ["filer"], None, actor="city-admin", actor_position=None
        )
        console = await admin.clients.register(
            name="企业管理", redirect_uris=[CALLBACK], scopes=["enterprise:manage"]
        )
    tokens = {}
    for name, registered, scope in (
        ("zhao", console, "openid enterprise:manage"),
        ("li", console, "openid enterprise:manage"),
        ("zhao", app, "openid profile"),
    ):
        browser = Browser(live.url)
        try:
            arrival = await browser.go(
                authorize_url(live.url, registered.client.client_id, scope=scope),
                username=name,
                password=PASSWORD,
            )
            token = (await exchange(live.url, registered, arrival))["access_token"]
            tokens[name if registered is console else f"{name}-elsewhere"] = token
        finally:
            await browser.close()
    path = f"/account/api/v1/enterprises/{acme.id}/delegations"
    async with httpx.AsyncClient(base_url=live.url) as http:
        # A token another app received for the representative manages nothing.
        elsewhere = {"Authorization": f"Bearer {tokens['zhao-elsewhere']}"}
        refused = await http.get(path, headers=elsewhere)
        assert refused.status_code == 403 and refused.json()["scope"] == "enterprise:manage"
        as_zhao = {"Authorization": f"Bearer {tokens['zhao']}"}
        as_li = {"Authorization": f"Bearer {tokens['li']}"}
        bad = await http.post(path, json={"member": li.id, "position": "boss"}, headers=as_zhao)
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "position"
        huge = await http.post(
            path,
            content=b'{"member": "' + b"x" * 100_000 + b'"}',
            headers={**as_zhao, "Content-Type": "application/json"},
        )
        assert huge.status_code == 413
        assert huge.headers["content-type"] == "application/problem+json"
        for deep in (b"[" * 10_000, b'{"member": ' + b"[" * 40 + b"]" * 40 + b"}"):
            nested = await http.post(
                path, content=deep, headers={**as_zhao, "Content-Type": "application/json"}
            )
            assert nested.status_code == 400, nested.text
            assert nested.headers["content-type"] == "application/problem+json"
        form = await http.post(path, data={"member": li.id}, headers=as_zhao)
        assert form.status_code == 415
        far = {"member": li.id, "position": "staff", "expires_at": 1e308}
        too_late = await http.post(path, json=far, headers=as_zhao)
        assert too_late.status_code == 422 and too_late.json()["errors"][0]["field"] == "expires_at"
        # A delegate hands on only roles it holds (the city gave the representative "filer").
        beyond = {"member": li.id, "position": "staff", "roles": ["filer", "approver"]}
        refused = await http.post(path, json=beyond, headers=as_zhao)
        assert refused.status_code == 403 and "approver" in refused.json()["detail"]
        made = await http.post(
            path, json={"member": li.id, "position": "staff", "roles": ["filer"]}, headers=as_zhao
        )
        assert made.status_code == 201, made.text
        assert made.json()["granted_by"] == zhao.id and made.json()["roles"] == ["filer"]
        # Staff manage nobody, and learn nothing about the enterprise's people.
        assert (await http.get(path, headers=as_li)).status_code == 404
        again = await http.post(path, json={"member": li.id, "position": "staff"}, headers=as_li)
        assert again.status_code == 404
        assert (await http.get(path)).status_code == 401
        listed = (await http.get(path, headers=as_zhao)).json()["items"]
        assert {(d["position"], d["member_id"]) for d in listed} == {
            ("representative", zhao.id),
            ("staff", li.id),
        }
        for odd in ("%00", "not-an-id", "..%2F..%2Fetc"):
            strange = await http.delete(f"{path}/{odd}", headers=as_zhao)
            assert strange.status_code == 404, strange.text
            nowhere = await http.get(
                f"/account/api/v1/enterprises/{odd}/delegations", headers=as_zhao
            )
            assert nowhere.status_code == 404, nowhere.text
        gone = await http.delete(f"{path}/{made.json()['id']}", headers=as_zhao)
        assert gone.status_code == 204
    async with second_instance(live.settings) as admin:
        assert await admin.delegations.active(li.id, acme.id) is None
    revoked = await audit_events(live, "delegation.revoked")
    assert [(e.actor, e.target, e.ip) for e in revoked] == [(zhao.id, li.id, "127.0.0.1")]


async def test_restricted_claims_only_for_an_approved_app_and_names_as_the_app_wants(
    city,
) -> None:
    live, app, li, _zhao = city
    national_id = "11010519491231002X"
    async with second_instance(live.settings) as admin:
        await admin.federation.link(
            Identity(
                provider_id="police",
                subject="p-1",
                national_id=national_id,
                verified=frozenset({"national_id"}),
            ),
            li.id,
            "test",
        )
        approved = await admin.clients.register(name="不动产登记", redirect_uris=[CALLBACK])
        async with admin.database.transaction() as session:
            role = await roles.create_role(session, "r1", approved.client.client_id, "buyer", "", 0)
            await roles.assign(session, "a1", role.id, li.id, "", "t", 0, None)
        await set_policy(
            admin,
            approved.client.client_id,
            {"claims": {"restricted": ["national_id"], "rename": {"roles": "authorities"}}},
        )
    seen = {}
    for registered in (app, approved):
        browser = Browser(live.url)
        try:
            arrival = await browser.go(
                authorize_url(live.url, registered.client.client_id),
                username="li",
                password=PASSWORD,
            )
            seen[registered.client.client_id] = claims(
                (await exchange(live.url, registered, arrival))["id_token"]
            )
        finally:
            await browser.close()
    assert "national_id" not in seen[app.client.client_id]
    assert seen[approved.client.client_id]["national_id"] == national_id
    assert seen[approved.client.client_id]["authorities"] == ["buyer"]
    assert "roles" not in seen[approved.client.client_id]
    logged = json.dumps(
        [e.details for e in await batched_audit_events(live, "authorize.granted")],
        ensure_ascii=False,
    )
    assert logged != "[]", "the granted authorizations were found"
    assert national_id not in logged
