"""Renaming and moving a group through the admin API: at the version read (412 when it changed
meanwhile), only to a department the administrator reaches (a department elsewhere is named as
an unknown one is: 422), audited with what changed; removing one honours If-Match alike."""

from __future__ import annotations

from store import audit as audit_store
from tests.gateway.admin.conftest import World
from tests.gateway.admin.test_admin_api import problem
from tests.gateway.helpers import second_instance


async def test_a_group_is_renamed_and_moved_inside_the_reach(world: World) -> None:
    async with world.http(world.east_token) as east:
        made = await east.post(
            "/groups", json={"id": "tax-desk", "name": "窗口", "department_id": "east-tax"}
        )
        assert made.status_code == 201
        read = made.headers["etag"]
        moved = await east.patch(
            "/groups/tax-desk",
            json={"name": "东区窗口", "department_id": "east"},
            headers={"If-Match": read},
        )
        assert moved.status_code == 200, moved.text
        assert (moved.json()["name"], moved.json()["department_id"]) == ("东区窗口", "east")
        assert moved.headers["etag"] != read
        stale = await east.patch(
            "/groups/tax-desk", json={"name": "旧"}, headers={"If-Match": read}
        )
        problem(stale, 412)
        for elsewhere in ("west", "nowhere", None):
            refused = await east.patch("/groups/tax-desk", json={"department_id": elsewhere})
            assert problem(refused, 422)["errors"][0]["field"] == "body.department_id"
        problem(await east.delete("/groups/tax-desk", headers={"If-Match": read}), 412)
        assert (await east.get("/groups/tax-desk")).json()["department_id"] == "east"
    async with world.http(world.city_token) as city:
        current = (await city.get("/groups/tax-desk")).headers["etag"]
        to_west = await city.patch(
            "/groups/tax-desk", json={"department_id": "west"}, headers={"If-Match": current}
        )
        assert to_west.status_code == 200
    async with world.http(world.east_token) as east:
        problem(await east.get("/groups/tax-desk"), 404)  # out of its reach now
    async with (
        second_instance(world.live.settings) as services,
        services.database.sessions() as session,
    ):
        events = await audit_store.query(session, event="admin.group.updated")
    moves = [e.details for e in events if e.target == "tax-desk"]
    assert [(d["before"]["department_id"], d["after"]["department_id"]) for d in moves] == [
        ("east-tax", "east"),
        ("east", "west"),
    ]
