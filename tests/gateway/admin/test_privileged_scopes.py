"""Privileged scopes (admin:read, admin:write, enterprise:manage) on a live gateway: only
city-wide administrators put them on an app or change such an app, the admin API takes tokens
only from apps designated for administration, a person grants them only on a consent page in
that very authorization, and no other grant (client_credentials, refresh) brings them back."""

from __future__ import annotations

import time
import uuid
from urllib.parse import urlencode

import httpx
import pyotp
import sqlalchemy as sa

from store import audit as audit_store
from store.tables import AccountRow
from tests.gateway.admin.conftest import CALLBACK, PASSWORD, World, make_account
from tests.gateway.admin.test_admin_api import problem
from tests.gateway.browser import Browser, hidden
from tests.gateway.helpers import second_instance

ROGUE = "https://rogue.east.example/cb"


def authorize_url(base: str, client_id: str, redirect_uri: str, scope: str, **extra: str) -> str:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": scope,
        "state": "s",
        "nonce": "n",
        **extra,
    }
    return f"{base}/oauth/authorize?{urlencode(params)}"


async def walk(browser: Browser, url: str) -> httpx.Response:
    """Follow the gateway's own redirects, filling no form: the page a person would see, or
    the redirect that leaves for the app."""
    response = await browser.http.get(url)
    for _ in range(10):
        location = response.headers.get("location", "")
        if response.status_code not in (302, 303) or not (
            location.startswith("/") or location.startswith(browser.base_url)
        ):
            return response
        response = await browser.http.get(location)
    raise AssertionError("too many redirects")


async def allow(browser: Browser, page: httpx.Response) -> httpx.Response:
    assert page.status_code == 200 and page.request.url.path == "/consent", page.text
    posted = await browser.http.post(
        "/consent",
        data={
            "tx": hidden(page.text, "tx"),
            "csrf_token": hidden(page.text, "csrf_token"),
            "decision": "allow",
        },
    )
    return await walk(browser, posted.headers["location"])


def params_of(arrival: httpx.Response) -> dict[str, str]:
    assert arrival.status_code in (302, 303), arrival.text
    return dict(httpx.URL(arrival.headers["location"]).params)


async def exchange(base: str, client_id: str, secret: str, code: str, redirect_uri: str) -> dict:
    async with httpx.AsyncClient(base_url=base) as http:
        response = await http.post(
            "/oauth/token",
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri},
            auth=(client_id, secret),
        )
    assert response.status_code == 200, response.text
    return response.json()


async def refresh(base: str, client_id: str, secret: str, token: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=base) as http:
        return await http.post(
            "/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": token},
            auth=(client_id, secret),
        )


async def signed_in(world: World, username: str) -> Browser:
    """A browser with a live SSO session of ``username`` (signed in to a harmless app)."""
    browser = Browser(world.live.url)
    async with second_instance(world.live.settings) as services:
        plain = await services.clients.register(name="门户", redirect_uris=[CALLBACK])
    url = authorize_url(world.live.url, plain.client.client_id, CALLBACK, "openid")
    arrival = await browser.go(url, username=username, password=PASSWORD)
    assert "code" in params_of(arrival)
    return browser


async def test_only_city_wide_admins_put_privileged_scopes_on_an_app(world: World) -> None:
    east_app = f"/clients/{world.east_app}"
    async with world.http(world.east_token) as east:
        for scopes in (["admin:read", "admin:write"], ["admin:read"], ["enterprise:manage"]):
            created = await east.post(
                "/clients",
                json={
                    "client_name": "东区工具",
                    "redirect_uris": [ROGUE],
                    "department_id": "east",
                    "scopes": ["profile.read", *scopes],
                },
            )
            assert "privileged scopes" in problem(created, 403)["detail"]
            problem(await east.patch(east_app, json={"scopes": scopes}), 403)
        designated = {
            "client_name": "东区控制台",
            "redirect_uris": [ROGUE],
            "department_id": "east",
        }
        problem(await east.post("/clients", json={**designated, "admin_console": True}), 403)
        problem(await east.patch(east_app, json={"admin_console": True}), 403)
        # Under another name the field is unknown, not ignored or taken as the scopes.
        for odd in (
            {"scope": "admin:write"},
            {"Scopes": ["admin:write"]},
            {"scopes": "admin:write"},
        ):
            problem(await east.patch(east_app, json=odd), 422)
        # Other apps with other scopes are the district's to make.
        mine = await east.post(
            "/clients", json={**designated, "scopes": ["data.read"], "require_consent": False}
        )
        assert mine.status_code == 201, mine.text
        unchanged = (await east.get(east_app)).json()
        assert unchanged["scopes"] == [] and unchanged["admin_console"] is False
    async with world.http(world.city_token) as city:
        made = await city.patch(east_app, json={"scopes": ["enterprise:manage"]})
        assert made.status_code == 200 and made.json()["scopes"] == ["enterprise:manage"]
    async with world.http(world.east_token) as east:
        # Now the app reaches beyond the district: the district may look, and change nothing
        # (new redirect URIs or a new secret would hand it the codes and tokens).
        assert (await east.get(east_app)).status_code == 200
        problem(await east.patch(east_app, json={"redirect_uris": [ROGUE]}), 403)
        problem(await east.patch(east_app, json={"scopes": []}), 403)
        problem(await east.patch(east_app, json={"department_id": "east"}), 403)
        problem(await east.post(f"{east_app}/secret"), 403)
        problem(await east.put(f"{east_app}/policy", json={"min_acr": "L1"}), 403)
        problem(await east.delete(east_app), 403)
        assert (await east.get(east_app)).json()["redirect_uris"] == ["https://east.example/cb"]
    async with world.http(world.city_token) as city:
        dropped = await city.patch(east_app, json={"scopes": []})
        assert dropped.status_code == 200 and dropped.json()["scopes"] == []
    async with (
        second_instance(world.live.settings) as services,
        services.database.sessions() as session,
    ):
        changes = await audit_store.query(session, event="admin.client.updated")
    assert [e.actor for e in changes] == [world.city_admin, world.city_admin]


async def test_a_city_admins_sso_session_gives_no_admin_power_to_another_app(
    world: World,
) -> None:
    # An app holding admin scopes that nobody designated for administration (registered
    # before designation existed, or by an administrator who did not mean it for that).
    async with second_instance(world.live.settings) as services:
        rogue = await services.clients.register(
            name="东区工具", redirect_uris=[ROGUE], scopes=["admin:read", "admin:write"]
        )
    browser = await signed_in(world, "root")
    try:
        url = authorize_url(
            world.live.url, rogue.client.client_id, ROGUE, "openid admin:read admin:write"
        )
        arrival = await walk(browser, url)
    finally:
        await browser.close()
    code = params_of(arrival)["code"]
    tokens = await exchange(
        world.live.url, rogue.client.client_id, rogue.client_secret or "", code, ROGUE
    )
    assert tokens["scope"].split() == ["openid"]
    async with world.http(tokens["access_token"]) as stolen:
        refused = problem(await stolen.get("/keys"), 401)
        assert "designated for administration" in refused["detail"]
        assert 'error="invalid_token"' in (await stolen.get("/keys")).headers["www-authenticate"]
        assignment = {"account_id": world.east_person, "role": "admin:write"}
        problem(await stolen.post("/assignments", json=assignment), 401)


async def test_admin_scopes_need_a_consent_page_each_time_and_the_second_factor(
    world: World,
) -> None:
    console = world.admin_client
    client_id, secret = console.client.client_id, console.client_secret or ""
    scope = "openid admin:read admin:write"
    url = authorize_url(world.live.url, client_id, CALLBACK, scope)
    browser = await signed_in(world, "root")
    try:
        silent = params_of(await walk(browser, url + "&prompt=none"))
        assert silent["error"] == "consent_required" and "code" not in silent
        page = await walk(browser, url)
        assert page.status_code == 200 and page.request.url.path == "/consent"
        assert "以您的身份修改管理信息" in page.text and "管理权限" in page.text
        first = params_of(await allow(browser, page))
        # A consent given before is never taken as given now (the app could have changed).
        again = await walk(browser, url)
        assert again.status_code == 200 and again.request.url.path == "/consent"
        assert params_of(await walk(browser, url + "&prompt=none"))["error"] == "consent_required"
        tokens = await exchange(world.live.url, client_id, secret, first["code"], CALLBACK)
        assert set(tokens["scope"].split()) == set(scope.split())
        # The admin policy asks for a second factor: it comes before the consent page.
        async with world.http(world.city_token) as city:
            current = await city.get(f"/clients/{client_id}/policy")
            mfa = await city.put(
                f"/clients/{client_id}/policy",
                json={"mfa": True},
                headers={"If-Match": current.headers["etag"]},
            )
            assert mfa.status_code == 200, mfa.text
        async with second_instance(world.live.settings) as services:
            started = await services.otp.begin(world.city_admin, "root")
            assert started is not None
            totp = pyotp.TOTP(started[0])
            assert await services.otp.verify(world.city_admin, totp.now(), confirming=True)
        page = await walk(browser, url)
        assert page.status_code == 200 and page.request.url.path == "/login/otp", page.text
        step_up = params_of(await walk(browser, url + "&prompt=none"))
        assert step_up["error"] == "login_required"
        page = await walk(browser, url)
        form = {"tx": hidden(page.text, "tx"), "csrf_token": hidden(page.text, "csrf_token")}
        code = totp.at(time.time() + 30)
        passed = await browser.http.post("/login/otp", data={**form, "code": code})
        assert passed.status_code == 303, passed.text
        consent = await walk(browser, passed.headers["location"])
        assert consent.request.url.path == "/consent"
        assert "code" in params_of(await allow(browser, consent))
    finally:
        await browser.close()
    async with world.http(tokens["access_token"]) as admin:
        assert (await admin.get("/keys")).status_code == 200


async def test_tokens_of_an_app_no_longer_designated_or_privileged_stop_working(
    world: World,
) -> None:
    async with world.http(world.city_token) as city:
        made = await city.post(
            "/clients",
            json={
                "client_name": "第二控制台",
                "redirect_uris": [CALLBACK],
                "scopes": ["admin:read", "admin:write"],
                "admin_console": True,
            },
        )
        assert made.status_code == 201, made.text
    client_id, secret = made.json()["client_id"], made.json()["client_secret"]
    browser = await signed_in(world, "root")
    try:
        url = authorize_url(world.live.url, client_id, CALLBACK, "openid admin:read admin:write")
        arrival = await allow(browser, await walk(browser, url))
    finally:
        await browser.close()
    tokens = await exchange(world.live.url, client_id, secret, params_of(arrival)["code"], CALLBACK)
    async with world.http(tokens["access_token"]) as console:
        assert (await console.get("/keys")).status_code == 200
    async with world.http(world.city_token) as city:
        undone = await city.patch(f"/clients/{client_id}", json={"admin_console": False})
        assert undone.status_code == 200 and undone.json()["admin_console"] is False
    async with world.http(tokens["access_token"]) as console:
        problem(await console.get("/keys"), 401)
    # Its refresh token no longer carries the admin scopes either.
    renewed = await refresh(world.live.url, client_id, secret, tokens["refresh_token"])
    assert renewed.status_code == 200, renewed.text
    assert renewed.json()["scope"].split() == ["openid"]


async def test_client_credentials_never_carry_privileged_scopes(world: World) -> None:
    async with world.http(world.city_token) as city:
        made = await city.post(
            "/clients",
            json={
                "client_name": "数据交换",
                "grant_types": ["client_credentials"],
                "scopes": ["data.read", "admin:write", "enterprise:manage"],
            },
        )
        assert made.status_code == 201, made.text
    auth = (made.json()["client_id"], made.json()["client_secret"])
    async with httpx.AsyncClient(base_url=world.live.url) as http:
        for scope in ("admin:write", "enterprise:manage", "data.read admin:read"):
            data = {"grant_type": "client_credentials", "scope": scope}
            refused = await http.post("/oauth/token", data=data, auth=auth)
            assert refused.status_code == 400 and refused.json()["error"] == "invalid_scope"
        default = await http.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=auth
        )
        assert default.status_code == 200 and default.json()["scope"] == "data.read"


async def enterprise_of(world: World) -> tuple[str, str]:
    """An enterprise (a legal person) with the representative ``zhao``: their account ids."""
    async with second_instance(world.live.settings) as services:
        zhao = await make_account(services, "zhao", None)
        acme = await make_account(services, "acme-co", None)
        async with services.database.transaction() as session:
            await session.execute(
                sa.update(AccountRow).where(AccountRow.id == acme).values(kind="legal_person")
            )
        await services.delegations.appoint(
            await services.accounts.get(acme),
            await services.accounts.get(zhao),
            "representative",
            [],
            None,
            actor=world.city_admin,
            actor_position=None,
        )
    return acme, zhao


async def test_enterprise_manage_is_a_city_wide_app_and_a_consent_page(world: World) -> None:
    acme, _zhao = await enterprise_of(world)
    console = {
        "client_name": "企业管理",
        "redirect_uris": [ROGUE],
        "department_id": "east",
        "scopes": ["enterprise:manage"],
    }
    async with world.http(world.east_token) as east:
        problem(await east.post("/clients", json=console), 403)
    async with world.http(world.city_token) as city:
        made = await city.post("/clients", json=console)
        assert made.status_code == 201, made.text
    client_id, secret = made.json()["client_id"], made.json()["client_secret"]
    async with world.http(world.east_token) as east:
        problem(await east.post(f"/clients/{client_id}/secret"), 403)
        problem(await east.patch(f"/clients/{client_id}", json={"redirect_uris": [CALLBACK]}), 403)
    url = authorize_url(world.live.url, client_id, ROGUE, "openid enterprise:manage")
    browser = await signed_in(world, "zhao")
    try:
        silent = params_of(await walk(browser, url + "&prompt=none"))
        assert silent["error"] == "consent_required" and "code" not in silent
        page = await walk(browser, url)
        assert "任命或撤销企业的管理员和经办人" in page.text
        arrival = await allow(browser, page)
    finally:
        await browser.close()
    tokens = await exchange(world.live.url, client_id, secret, params_of(arrival)["code"], ROGUE)
    path = f"/account/api/v1/enterprises/{acme}/delegations"
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    async with httpx.AsyncClient(base_url=world.live.url) as http:
        assert (await http.get(path, headers=bearer)).status_code == 200
    async with world.http(world.city_token) as city:
        dropped = await city.patch(f"/clients/{client_id}", json={"scopes": []})
        assert dropped.status_code == 200
    async with httpx.AsyncClient(base_url=world.live.url) as http:
        refused = await http.get(path, headers=bearer)
        assert refused.status_code == 403 and refused.json()["scope"] == "enterprise:manage"
    renewed = await refresh(world.live.url, client_id, secret, tokens["refresh_token"])
    assert renewed.status_code == 200 and renewed.json()["scope"].split() == ["openid"]


async def test_a_city_admin_gets_404_for_an_enterprise_that_does_not_exist(world: World) -> None:
    acme, _zhao = await enterprise_of(world)
    async with httpx.AsyncClient(
        base_url=world.live.url, headers={"Authorization": f"Bearer {world.city_token}"}
    ) as http:
        listed = await http.get(f"/account/api/v1/enterprises/{acme}/delegations")
        assert listed.status_code == 200 and len(listed.json()["items"]) == 1
        for nobody in (str(uuid.uuid4()), world.east_person):  # unknown; a person, no enterprise
            missing = await http.get(f"/account/api/v1/enterprises/{nobody}/delegations")
            assert missing.status_code == 404, missing.text
            assert missing.headers["content-type"] == "application/problem+json"
            assert missing.json()["status"] == 404
