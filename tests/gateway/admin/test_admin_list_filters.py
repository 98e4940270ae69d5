"""The admin API's list filters the console relies on: accounts by name, departments one level
at a time and by name, the audit log by app and outcome; each still within the caller's reach."""

from __future__ import annotations

from tests.gateway.admin.conftest import World


async def test_accounts_by_name_within_the_reach(world: World) -> None:
    async with world.http(world.city_token) as city:
        found = (await city.get("/accounts", params={"name": "小明"})).json()
        assert {a["username"] for a in found["items"]} >= {"east-person", "west-person"}
        assert (await city.get("/accounts", params={"name": "无此人"})).json()["total"] == 0
    async with world.http(world.east_token) as east:
        found = (await east.get("/accounts", params={"name": "小明"})).json()
        assert "west-person" not in {a["username"] for a in found["items"]}


async def test_departments_a_level_at_a_time_and_by_name(world: World) -> None:
    async with world.http(world.city_token) as city:
        top = (await city.get("/departments", params={"parent_id": ""})).json()
        assert [d["id"] for d in top["items"]] == ["city"]
        below = (await city.get("/departments", params={"parent_id": "city"})).json()
        assert [d["id"] for d in below["items"]] == ["east", "west"]
        named = (await city.get("/departments", params={"name": "税务"})).json()
        assert [d["id"] for d in named["items"]] == ["east-tax"]
    async with world.http(world.east_token) as east:
        assert (await east.get("/departments", params={"parent_id": "city"})).json()["items"] == [
            d for d in below["items"] if d["id"] == "east"
        ]
        assert (await east.get("/departments", params={"name": "西"})).json()["total"] == 0


async def test_the_audit_log_by_app_and_outcome(world: World) -> None:
    async with world.http(world.east_token) as east:
        assert (await east.get(f"/accounts/{world.west_person}")).status_code == 404
        assert (await east.post(f"/accounts/{world.west_person}/unlock")).status_code == 404
    client_id = world.admin_client.client.client_id
    async with world.http(world.city_token) as city:
        denied = (await city.get("/audit", params={"outcome": "denied"})).json()["items"]
        assert [e["event"] for e in denied] == ["admin.denied"]
        mine = (await city.get("/audit", params={"client_id": client_id})).json()["items"]
        assert mine and all(e["client_id"] == client_id for e in mine)
        assert (await city.get("/audit", params={"outcome": "maybe"})).status_code == 422
