"""A pairwise sector belongs to the department whose apps use it: a district administrator
cannot put an app on another department's host (and so receive the same `sub` for each person),
a city-wide administrator can, with a reason the audit log keeps; both backends."""

from __future__ import annotations

from store import audit as audit_store
from tests.gateway.admin.conftest import World
from tests.gateway.admin.test_admin_api import problem
from tests.gateway.helpers import second_instance

REASON = "批准文号 2026-21: the joint service counter of east and west"
# west_app's redirect host is west.example (tests/gateway/admin/conftest.py).
ON_WEST = {
    "client_name": "东区借道",
    "redirect_uris": ["https://west.example/east-thing"],
    "department_id": "east",
}
CAS_ON_WEST = {
    "client_name": "东区借道（CAS）",
    "protocol": "cas",
    "service_urls": ["https://west.example/east-cas/*"],
    "department_id": "east",
}


async def entries(world: World, event: str) -> list:
    async with (
        second_instance(world.live.settings) as services,
        services.database.sessions() as session,
    ):
        return await audit_store.query(session, event=event, limit=100)


async def test_a_district_cannot_register_on_another_departments_sector(world: World) -> None:
    async with world.http(world.east_token) as east:
        refused = problem(await east.post("/clients", json=ON_WEST), 403)
        assert "west.example" in refused["detail"] and "sector" in refused["detail"]
        problem(await east.post("/clients", json=CAS_ON_WEST), 403)
        given = {**ON_WEST, "sector_reason": REASON}
        problem(await east.post("/clients", json=given), 403)
        # Moving its own app onto the host is refused too, and changes nothing.
        east_app = f"/clients/{world.east_app}"
        moved = {"redirect_uris": ["https://west.example/cb2"]}
        problem(await east.patch(east_app, json=moved), 403)
        assert (await east.get(east_app)).json()["redirect_uris"] == ["https://east.example/cb"]
        names = [c["client_name"] for c in (await east.get("/clients")).json()["items"]]
        assert "东区借道" not in names and "东区借道（CAS）" not in names
        # The sector of east_app (in east-tax, below east) is open to east's apps and
        # east-tax's own; a reason is refused where nothing is shared.
        for department in ("east-tax", "east"):
            beside = {
                "client_name": f"{department} 二",
                "redirect_uris": ["https://east.example/two"],
                "department_id": department,
            }
            problem(await east.post("/clients", json={**beside, "sector_reason": REASON}), 422)
            made = await east.post("/clients", json=beside)
            assert made.status_code == 201, made.text
    denied = await entries(world, "admin.denied")
    assert len(denied) == 4
    assert {e.actor for e in denied} == {world.east_admin}
    assert all("sector" in str(e.details) for e in denied)


async def test_a_city_wide_administrator_shares_a_sector_with_a_reason(world: World) -> None:
    async with world.http(world.city_token) as city:
        unsaid = problem(await city.post("/clients", json=ON_WEST), 422)
        assert "sector_reason" in str(unsaid)
        made = await city.post("/clients", json={**ON_WEST, "sector_reason": REASON})
        assert made.status_code == 201, made.text
        shared = made.json()["client_id"]
    async with world.http(world.east_token) as east:
        # Later changes that keep the sector need no new decision.
        renamed = await east.patch(f"/clients/{shared}", json={"client_name": "东西联办"})
        assert renamed.status_code == 200
        again = {"redirect_uris": ["https://west.example/east-thing", "https://west.example/b"]}
        assert (await east.patch(f"/clients/{shared}", json=again)).status_code == 200
    created = [e for e in await entries(world, "admin.client.created") if e.target == shared]
    assert len(created) == 1 and created[0].actor == world.city_admin
    details = created[0].details
    assert details["sector_reason"] == REASON
    assert details["shared_sector"] == {"sector": "west.example", "apps": [world.west_app]}
    assert not await entries(world, "admin.denied")
