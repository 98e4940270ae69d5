"""The app installations of a person: named by the app when it signs in, listed on the
my-sessions page and in the admin API, and ended from either (its refresh tokens stop)."""

from __future__ import annotations

import re

import httpx

from gateway.admin import roles
from gateway.admin.changes import CLI
from tests.gateway.admin.conftest import API, CALLBACK, sign_in_token
from tests.gateway.browser import Browser
from tests.gateway.helpers import second_instance
from tests.gateway.mobile.scan_world import PASSWORD, app_tokens


async def refresh(world, tokens: dict) -> httpx.Response:
    async with httpx.AsyncClient(base_url=world.url) as http:
        return await http.post(
            "/oauth/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": tokens["refresh_token"],
                "client_id": world.app_id,
            },
        )


async def test_the_person_sees_and_ends_an_installation(scan_world) -> None:
    phone = await app_tokens(scan_world, device_name="华为 Mate 60")
    tablet = await app_tokens(scan_world, device_name="iPad")
    browser = Browser(scan_world.url)
    try:
        page = await browser.http.get("/account/sessions")
        login = await browser.http.get(page.headers["location"])
        tx = re.search(r'name="tx" value="([^"]+)"', login.text).group(1)  # type: ignore[union-attr]
        login_csrf = re.search(r'name="csrf_token" value="([^"]+)"', login.text).group(1)  # type: ignore[union-attr]
        await browser.http.post(
            "/login",
            data={"tx": tx, "csrf_token": login_csrf, "username": "zhang", "password": PASSWORD},
        )
        sessions = await browser.http.get("/account/sessions")
        assert "华为 Mate 60" in sessions.text and "iPad" in sessions.text
        assert "App 设备" in sessions.text
        form = r'name="csrf_token" value="([^"]+)">\s*<input type="hidden" name="device"'
        csrf = re.search(form, sessions.text)
        ipad = re.search(
            r'<strong>iPad</strong>.*?name="device" value="([^"]+)"', sessions.text, re.S
        )
        assert csrf and ipad
        ended = await browser.http.post(
            "/account/devices", data={"csrf_token": csrf.group(1), "device": ipad.group(1)}
        )
        assert ended.status_code == 303
        after = await browser.http.get("/account/sessions")
        assert "iPad" not in after.text and "华为 Mate 60" in after.text
        forged = await browser.http.post(
            "/account/devices", data={"csrf_token": "forged", "device": ipad.group(1)}
        )
        assert forged.status_code == 400
    finally:
        await browser.close()
    assert (await refresh(scan_world, tablet)).json()["error"] == "invalid_grant"
    assert (await refresh(scan_world, phone)).status_code == 200


async def test_an_administrator_lists_and_ends_installations(scan_world) -> None:
    await app_tokens(scan_world, device_name="小米 14")
    async with second_instance(scan_world.live.settings) as services:
        console = await services.clients.register(
            name="管理控制台",
            redirect_uris=[CALLBACK],
            scopes=["admin:read", "admin:write"],
            admin_console=True,
        )
        root = await services.accounts.create_local(
            username="root", password=PASSWORD, name="管理员"
        )
        await roles.grant_admin(services, CLI, root.id, ["admin:read", "admin:write"])
    token = await sign_in_token(scan_world.live, console, "root")
    async with httpx.AsyncClient(
        base_url=scan_world.url + API, headers={"Authorization": f"Bearer {token}"}
    ) as http:
        account_id = await _account_id(http)
        listed = await http.get(f"/accounts/{account_id}/devices")
        assert listed.status_code == 200, listed.text
        [device] = listed.json()["items"]
        assert device["device_name"] == "小米 14" and device["client_id"] == scan_world.app_id
        assert device["first_used_at"] and device["last_used_at"] and device["dpop_jkt"] is None
        gone = await http.delete(f"/accounts/{account_id}/devices/{device['device_id']}")
        assert gone.status_code == 204
        assert (await http.get(f"/accounts/{account_id}/devices")).json()["items"] == []
        missing = await http.delete(f"/accounts/{account_id}/devices/{device['device_id']}")
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("application/problem+json")


async def _account_id(http: httpx.AsyncClient) -> str:
    found = await http.get("/accounts", params={"username": "zhang"})
    return found.json()["items"][0]["id"]
