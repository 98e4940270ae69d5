"""An app's lifecycle through the admin API: a suspended app signs nobody in (an error at its
registered redirect URI, a page otherwise), gets no tokens (invalid_client) and its refresh and
access tokens stop working until it is live again; retired is final; each change needs the
reach that editing the app needs, and is audited. Live gateway on both backends."""

from __future__ import annotations

from urllib.parse import urlencode

import httpx
import pytest

from store import audit as audit_store
from tests.gateway.admin.conftest import World
from tests.gateway.browser import Browser
from tests.gateway.helpers import second_instance
from tests.gateway.identity.test_access_policies import CALLBACK, PASSWORD, authorize_url, exchange

DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"


@pytest.fixture
async def office(world: World):
    """The admin world, zhao, and a confidential app (with the device grant) owned by the
    east district's tax office."""
    live_server = world.live
    async with second_instance(live_server.settings) as admin:
        app = await admin.clients.register(
            name="东区办事",
            redirect_uris=[CALLBACK],
            grant_types=["authorization_code", "refresh_token", DEVICE_CODE],
        )
        await admin.accounts.create_local(username="zhao", password=PASSWORD, name="赵敏")
    async with world.http(world.city_token) as http:
        moved = await http.patch(
            f"/clients/{app.client.client_id}", json={"department_id": "east-tax"}
        )
        assert moved.status_code == 200, moved.text
    browser = Browser(live_server.url)
    try:
        yield world, app, browser
    finally:
        await browser.close()


async def set_state(http: httpx.AsyncClient, client_id: str, state: str) -> httpx.Response:
    read = await http.get(f"/clients/{client_id}")
    assert read.status_code == 200, read.text
    return await http.put(
        f"/clients/{client_id}/state",
        json={"state": state},
        headers={"If-Match": read.headers["etag"]},
    )


async def refresh(base: str, app, refresh_token: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=base) as http:
        return await http.post(
            "/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": refresh_token},
            auth=(app.client.client_id, app.client_secret),
        )


async def test_a_suspended_app_signs_nobody_in_and_its_tokens_stop(office) -> None:
    world, app, browser = office
    base, client_id = world.live.url, app.client.client_id
    tokens = await exchange(
        base,
        app,
        await browser.go(authorize_url(base, client_id), username="zhao", password=PASSWORD),
    )
    async with world.http(world.city_token) as http:
        assert (await http.get(f"/clients/{client_id}")).json()["state"] == "live"
        suspended = await set_state(http, client_id, "suspended")
        assert suspended.status_code == 200, suspended.text
        assert suspended.json()["state"] == "suspended"

    # RFC 6749 §4.1.2.1: the error goes to the registered redirect URI ...
    refused = await browser.http.get(authorize_url(base, client_id))
    assert refused.status_code in (302, 303)
    location = httpx.URL(refused.headers["location"])
    assert str(location).startswith(CALLBACK)
    assert location.params["error"] == "unauthorized_client"
    assert "code" not in location.params
    # ... and never to one that is not registered.
    params = {"response_type": "code", "client_id": client_id, "scope": "openid"}
    elsewhere = await browser.http.get(
        f"{base}/oauth/authorize?{urlencode({**params, 'redirect_uri': 'https://x.example/'})}"
    )
    assert elsewhere.status_code == 400 and "location" not in elsewhere.headers

    again = await refresh(base, app, tokens["refresh_token"])
    assert again.status_code == 401 and again.json()["error"] == "invalid_client"
    async with httpx.AsyncClient(base_url=base) as plain:
        userinfo = await plain.get(
            "/oauth/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
        assert userinfo.status_code == 401
        device = await plain.post(
            "/oauth/device_authorization",
            data={"scope": "openid"},
            auth=(client_id, app.client_secret),
        )
        assert device.status_code == 401 and device.json()["error"] == "invalid_client"
        pushed = await plain.post(
            "/oauth/par",
            data={"response_type": "code", "redirect_uri": CALLBACK, "scope": "openid"},
            auth=(client_id, app.client_secret),
        )
        assert pushed.status_code == 401 and pushed.json()["error"] == "invalid_client"
        introspected = await plain.post(
            "/oauth/introspect",
            data={"token": tokens["access_token"]},
            auth=(client_id, app.client_secret),
        )
        assert introspected.status_code == 401  # the app itself is out of service

    # Live again, its refresh tokens work again: suspension is for a while.
    async with world.http(world.city_token) as http:
        assert (await set_state(http, client_id, "live")).status_code == 200
    assert (await refresh(base, app, tokens["refresh_token"])).status_code == 200


async def test_retired_is_final_and_each_change_is_audited(office) -> None:
    world, app, _ = office
    client_id = app.client.client_id
    async with world.http(world.city_token) as http:
        assert (await set_state(http, client_id, "retired")).status_code == 200
        back = await set_state(http, client_id, "live")
        assert back.status_code == 409
        assert "retired" in back.json()["detail"]
        unknown = await http.put(f"/clients/{client_id}/state", json={"state": "gone"})
        assert unknown.status_code == 422
        stale = await http.put(
            f"/clients/{client_id}/state", json={"state": "retired"}, headers={"If-Match": '"t1"'}
        )
        assert stale.status_code == 412
    async with (
        second_instance(world.live.settings) as services,
        services.database.sessions() as session,
    ):
        events = await audit_store.query(session, event="admin.client.state_changed")
    assert [(e.target, e.details["state"]) for e in events] == [
        (client_id, {"before": "live", "after": "retired"})
    ]
    assert events[0].actor == world.city_admin


async def test_a_draft_app_is_made_by_asking_and_goes_live_only_forward(world: World) -> None:
    async with world.http(world.city_token) as http:
        made = await http.post(
            "/clients",
            json={
                "client_name": "草稿应用",
                "redirect_uris": ["https://draft.example/cb"],
                "department_id": "east",
                "state": "draft",
            },
        )
        assert made.status_code == 201 and made.json()["state"] == "draft"
        client_id = made.json()["client_id"]
        assert (await set_state(http, client_id, "suspended")).status_code == 409
        assert (await set_state(http, client_id, "live")).status_code == 200
        assert (await set_state(http, client_id, "draft")).status_code == 409
        # An app's state is changed by its own endpoint, not by an edit.
        patched = await http.patch(f"/clients/{client_id}", json={"state": "retired"})
        assert patched.status_code == 422


async def test_the_state_needs_the_reach_of_an_edit(world: World) -> None:
    async with world.http(world.east_token) as http:
        outside = await http.put(f"/clients/{world.west_app}/state", json={"state": "suspended"})
        assert outside.status_code == 404
        own = await set_state(http, world.east_app, "suspended")
        assert own.status_code == 200, own.text
    # Designated for administration, an app's state is a city-wide decision, as its edits are.
    async with world.http(world.east_token) as http:
        admin_app = world.admin_client.client.client_id
        assert (
            await http.put(f"/clients/{admin_app}/state", json={"state": "live"})
        ).status_code in (403, 404)


async def test_a_suspended_admin_apps_tokens_administer_nothing(world: World) -> None:
    # The admin API checked the token's app was designated, not that it was live: a suspended
    # (or retired) admin app's tokens still administered the city, and could put it live again.
    admin_app = world.admin_client.client.client_id
    async with world.http(world.city_token) as http:
        assert (await set_state(http, admin_app, "suspended")).status_code == 200
        refused = await http.get("/accounts")
        assert refused.status_code == 401, refused.text
        again = await http.put(f"/clients/{admin_app}/state", json={"state": "live"})
        assert again.status_code == 401
    async with (
        second_instance(world.live.settings) as services,
        services.database.sessions() as session,
    ):
        events = await audit_store.query(session, event="admin.client.state_changed")
    assert [e.details["state"]["after"] for e in events] == ["suspended"]
