"""UserInfo, introspection and revocation over real HTTP on both backends."""

from __future__ import annotations

import httpx

from tests.gateway.helpers import second_instance
from tests.gateway.sso import (
    PASSWORD,
    authorize_url,
    code_of,
    exchange,
)


async def test_userinfo_errors(world) -> None:
    live = world["live"]
    async with second_instance(live.settings) as admin:
        machine = await admin.clients.register(
            name="M", grant_types=["client_credentials"], scopes=["data.read"]
        )
    async with httpx.AsyncClient(base_url=live.url) as http:
        machine_token = (
            await http.post(
                "/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=(machine.client.client_id, machine.client_secret),
            )
        ).json()["access_token"]
        none = await http.get("/oauth/userinfo")
        garbage = await http.get("/oauth/userinfo", headers={"Authorization": "Bearer abc.def.ghi"})
        no_openid = await http.get(
            "/oauth/userinfo", headers={"Authorization": f"Bearer {machine_token}"}
        )
        both = await http.post(
            "/oauth/userinfo",
            data={"access_token": machine_token},
            headers={"Authorization": f"Bearer {machine_token}"},
        )
    assert none.status_code == 401 and none.headers["www-authenticate"].startswith("Bearer")
    assert garbage.status_code == 401 and "invalid_token" in garbage.headers["www-authenticate"]
    assert no_openid.status_code == 403
    assert "insufficient_scope" in no_openid.headers["www-authenticate"]
    assert both.status_code == 400


async def test_introspection_and_revocation(world) -> None:
    live, tax, browser = world["live"], world["tax"], world["browser"]
    arrival = await browser.go(
        authorize_url(
            live.url, tax.client.client_id, scope="openid offline_access", prompt="consent"
        ),
        username="wang",
        password=PASSWORD,
    )
    tokens = (await exchange(live, tax, code_of(arrival))).json()
    auth = (tax.client.client_id, tax.client_secret)
    async with httpx.AsyncClient(base_url=live.url) as http:
        anonymous = await http.post("/oauth/introspect", data={"token": tokens["access_token"]})
        assert anonymous.status_code == 401
        active = await http.post(
            "/oauth/introspect", data={"token": tokens["access_token"]}, auth=auth
        )
        body = active.json()
        assert body["active"] is True and body["client_id"] == tax.client.client_id
        assert body["sub"] == world["account"].id and body["scope"] == "openid offline_access"
        assert active.headers["cache-control"] == "no-store"
        unknown = await http.post("/oauth/introspect", data={"token": "nope"}, auth=auth)
        assert unknown.json() == {"active": False}
        missing = await http.post("/oauth/introspect", data={}, auth=auth)
        assert missing.json()["error"] == "invalid_request"

        revoked = await http.post(
            "/oauth/revoke", data={"token": tokens["access_token"]}, auth=auth
        )
        assert revoked.status_code == 200
        after = await http.post(
            "/oauth/introspect", data={"token": tokens["access_token"]}, auth=auth
        )
        assert after.json() == {"active": False}
        info = await http.get(
            "/oauth/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
        assert info.status_code == 401

        await http.post(
            "/oauth/revoke",
            data={"token": tokens["refresh_token"], "token_type_hint": "refresh_token"},
            auth=auth,
        )
        refreshed = await http.post(
            "/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
            auth=auth,
        )
        assert refreshed.json()["error"] == "invalid_grant"
        nothing = await http.post("/oauth/revoke", data={"token": "not-a-token"}, auth=auth)
        assert nothing.status_code == 200
