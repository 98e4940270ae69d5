"""An administrator resets a person's authenticator app (a lost phone): the sessions that were
signed in with its codes end with it, with the tokens issued in them; others go on. Live
gateway on both backends, admin tokens from the real sign-in."""

from __future__ import annotations

import time

import httpx
import pytest

from store import audit as audit_store
from store import client_policies
from tests.gateway.admin.conftest import World, build_world
from tests.gateway.browser import Browser, hidden
from tests.gateway.helpers import second_instance
from tests.gateway.identity.test_access_policies import CALLBACK, PASSWORD, authorize_url, exchange
from tests.gateway.identity.test_otp import enrol


@pytest.fixture
async def office(live_server):
    """The admin world, zhao (a person with no department) and two apps: one needs
    multi-factor sign-in, one does not."""
    async with second_instance(live_server.settings) as admin:
        mfa = await admin.clients.register(name="财政审批", redirect_uris=[CALLBACK])
        plain = await admin.clients.register(name="办事大厅", redirect_uris=[CALLBACK])
        zhao = await admin.accounts.create_local(username="zhao", password=PASSWORD, name="赵敏")
        async with admin.database.transaction() as session:
            await client_policies.put_policy(session, mfa.client.client_id, {"mfa": True}, None, 0)
    world = await build_world(live_server)
    browsers = [Browser(live_server.url), Browser(live_server.url)]
    try:
        yield world, mfa, plain, zhao.id, browsers
    finally:
        for browser in browsers:
            await browser.close()


async def userinfo(world: World, access_token: str) -> int:
    async with httpx.AsyncClient(base_url=world.live.url) as http:
        answer = await http.get(
            "/oauth/userinfo", headers={"Authorization": f"Bearer {access_token}"}
        )
        return answer.status_code


async def refresh(world: World, registered, refresh_token: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=world.live.url) as http:
        return await http.post(
            "/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": refresh_token},
            auth=(registered.client.client_id, registered.client_secret),
        )


async def test_resetting_the_authenticator_ends_the_sessions_that_used_it(office) -> None:
    world, mfa, plain, zhao, (with_code, password_only) = office
    live = world.live
    totp = await enrol(with_code)
    page = await with_code.go(authorize_url(live.url, mfa.client.client_id))
    assert page.request.url.path == "/login/otp"
    form = {"tx": hidden(page.text, "tx"), "csrf_token": hidden(page.text, "csrf_token")}
    code = totp.at(time.time() + 30)  # the enrolment used the current one
    accepted = await with_code.http.post("/login/otp", data={**form, "code": code})
    assert accepted.status_code == 303
    proven = await exchange(live.url, mfa, await with_code.go(accepted.headers["location"]))
    other = await exchange(
        live.url,
        plain,
        await password_only.go(
            authorize_url(live.url, plain.client.client_id), username="zhao", password=PASSWORD
        ),
    )
    assert {"refresh_token", "access_token"} <= set(proven)
    assert await userinfo(world, proven["access_token"]) == 200

    async with world.http(world.city_token) as http:
        assert len((await http.get(f"/accounts/{zhao}/sessions")).json()["items"]) == 2
        assert (await http.delete(f"/accounts/{zhao}/otp")).status_code == 204
        left = (await http.get(f"/accounts/{zhao}/sessions")).json()["items"]
    assert len(left) == 1, "the session signed in with the app's code ended"

    assert await userinfo(world, proven["access_token"]) == 401
    refused = await refresh(world, mfa, proven["refresh_token"])
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    silent = await with_code.go(authorize_url(live.url, plain.client.client_id, prompt="none"))
    assert httpx.URL(silent.headers["location"]).params["error"] == "login_required"

    # The password-only session had nothing to do with the phone: it goes on.
    assert await userinfo(world, other["access_token"]) == 200
    assert (await refresh(world, plain, other["refresh_token"])).status_code == 200
    still = await password_only.go(authorize_url(live.url, plain.client.client_id, prompt="none"))
    assert "code" in httpx.URL(still.headers["location"]).params

    async with (
        second_instance(live.settings) as services,
        services.database.sessions() as session,
    ):
        ended = await audit_store.query(session, event="admin.account.sessions_revoked")
    assert [(e.actor, e.target, e.details) for e in ended] == [
        (world.city_admin, zhao, {"ended": 1, "why": "otp_reset"})
    ]
