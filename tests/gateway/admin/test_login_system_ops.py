"""登录方式 through the admin API: a test reaches the department's system through its provider's
own check (a real SQLite user table; a CAS server that is not there) and answers ok or the
reason, never a trace; a disabled login system is not offered on the sign-in page and its start
refuses, until it is enabled again. City-wide administrators only; audited."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import pytest

from store import audit as audit_store
from tests.gateway.admin.conftest import World
from tests.gateway.browser import Browser, hidden
from tests.gateway.helpers import second_instance
from tests.gateway.identity.test_access_policies import CALLBACK, authorize_url

CAS = {"name": "税务局统一认证", "server_url": "https://cas.tax.example/cas"}


def members(tmp_path: Path) -> dict:
    database = tmp_path / "members.db"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE members (id TEXT, login TEXT, pwd TEXT)")
        connection.executemany("INSERT INTO members VALUES (?, ?, ?)", [("1", "a", "x")] * 2)
    return {
        "name": "市社保局",
        "url": f"sqlite:///{database}",
        "table": "members",
        "scheme": "md5",
        "columns": {"subject": "id", "username": "login", "password": "pwd"},
    }


async def test_a_test_answers_ok_or_the_reason(world: World, tmp_path: Path) -> None:
    async with world.http(world.city_token) as http:
        for body in (
            {"id": "social", "type": "legacy_sql", "config": members(tmp_path)},
            {
                "id": "far",
                "type": "cas",
                "config": {**CAS, "server_url": "https://127.0.0.1:9/cas"},
            },
        ):
            assert (await http.post("/providers", json=body)).status_code == 201
        worked = await http.post("/providers/social/test")
        assert worked.status_code == 200, worked.text
        assert worked.json() == {
            "ok": True,
            "reason": None,
            "checked": "count of the user table",
            "found": "2 users in members",
        }
        failed = await http.post("/providers/far/test")
        assert failed.status_code == 200
        assert failed.json()["ok"] is False and failed.json()["checked"] == "CAS login page"
        assert "unreachable" in failed.json()["reason"] and "Traceback" not in failed.text
        assert (await http.post("/providers/nothing/test")).status_code == 404
    async with world.http(world.east_token) as http:
        assert (await http.post("/providers/social/test")).status_code == 403
    async with (
        second_instance(world.live.settings) as services,
        services.database.sessions() as session,
    ):
        tested = await audit_store.query(session, event="admin.provider.tested")
    assert sorted((e.target, e.details["ok"]) for e in tested) == [("far", False), ("social", True)]


async def sign_in_page(world: World, client_id: str) -> tuple[httpx.Response, httpx.Response]:
    browser = Browser(world.live.url)
    try:
        response = await browser.http.get(authorize_url(world.live.url, client_id))
        while response.status_code in (302, 303):
            response = await browser.http.get(response.headers["location"])
        assert response.request.url.path == "/login"
        start = await browser.http.get(f"/login/start/tax-cas?tx={hidden(response.text, 'tx')}")
        return response, start
    finally:
        await browser.close()


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_a_disabled_login_system_is_not_offered(world: World) -> None:
    async with second_instance(world.live.settings) as admin:
        app = await admin.clients.register(name="办事大厅", redirect_uris=[CALLBACK])
    client_id = app.client.client_id
    async with world.http(world.city_token) as http:
        added = await http.post("/providers", json={"id": "tax-cas", "type": "cas", "config": CAS})
        assert added.status_code == 201
        page, start = await sign_in_page(world, client_id)
        assert "/login/start/tax-cas" in page.text and CAS["name"] in page.text
        assert start.status_code == 303
        assert start.headers["location"].startswith(CAS["server_url"] + "/login")

        switched = await http.patch(
            "/providers/tax-cas",
            json={"disabled": True},
            headers={"If-Match": added.headers["etag"]},
        )
        assert switched.status_code == 200 and switched.json()["disabled"] is True
        page, start = await sign_in_page(world, client_id)
        assert "/login/start/tax-cas" not in page.text and CAS["name"] not in page.text
        assert start.status_code == 400 and "location" not in start.headers
        listed = (await http.get("/providers")).json()["items"]
        assert [(p["id"], p["disabled"]) for p in listed] == [("tax-cas", True)]
        stale = await http.patch(
            "/providers/tax-cas",
            json={"disabled": False},
            headers={"If-Match": added.headers["etag"]},
        )
        assert stale.status_code == 412
        async with world.http(world.east_token) as district:
            refused = await district.patch("/providers/tax-cas", json={"disabled": False})
            assert refused.status_code == 403

        assert (await http.patch("/providers/tax-cas", json={"disabled": False})).status_code == 200
        page, start = await sign_in_page(world, client_id)
        assert "/login/start/tax-cas" in page.text and start.status_code == 303
        audit = (await http.get("/audit", params={"event": "admin.provider.*"})).json()["items"]
    assert [e["event"] for e in audit if e["event"] != "admin.provider.added"] == [
        "admin.provider.disabled",
        "admin.provider.enabled",
    ]
