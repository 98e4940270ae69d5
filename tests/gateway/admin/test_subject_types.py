"""Pairwise subjects by default, the public `sub` only by a city-wide administrator with a reason
the audit log keeps; over the admin API on both backends."""

from __future__ import annotations

from store import audit as audit_store
from tests.gateway.admin.conftest import World
from tests.gateway.admin.test_admin_api import problem
from tests.gateway.helpers import second_instance

REASON = "批准文号 2026-17: the district's case system joins records by account id"


async def test_only_a_city_wide_administrator_makes_an_app_public_and_says_why(
    world: World,
) -> None:
    east_app = f"/clients/{world.east_app}"
    new_app = {
        "client_name": "东区预约",
        "redirect_uris": ["https://book.east.example/cb"],
        "department_id": "east",
    }
    async with world.http(world.east_token) as east:
        made = await east.post("/clients", json=new_app)
        assert made.status_code == 201 and made.json()["subject_type"] == "pairwise"
        public = {"subject_type": "public", "subject_type_reason": REASON}
        assert (
            "public subject"
            in problem(await east.post("/clients", json={**new_app, **public}), 403)["detail"]
        )
        problem(await east.patch(east_app, json=public), 403)
        assert (await east.get(east_app)).json()["subject_type"] == "pairwise"
    async with world.http(world.city_token) as city:
        unsaid = problem(await city.patch(east_app, json={"subject_type": "public"}), 422)
        assert "subject_type_reason" in str(unsaid)
        problem(await city.patch(east_app, json={"subject_type_reason": REASON}), 422)
        moved = await city.patch(east_app, json=public)
        assert moved.status_code == 200 and moved.json()["subject_type"] == "public"
        # Other changes of a public app need no new reason.
        renamed = await city.patch(east_app, json={"client_name": "东区医保（新）"})
        assert renamed.status_code == 200 and renamed.json()["subject_type"] == "public"
    async with world.http(world.east_token) as east:
        # Back to pairwise is the district's own choice.
        back = await east.patch(east_app, json={"subject_type": "pairwise"})
        assert back.status_code == 200 and back.json()["subject_type"] == "pairwise"
    async with (
        second_instance(world.live.settings) as services,
        services.database.sessions() as session,
    ):
        events = await audit_store.query(
            session, event="admin.client.updated", target=world.east_app, limit=50
        )
    reasons = [e.details.get("subject_type_reason") for e in events]
    assert reasons.count(REASON) == 1, "the move to public, with its reason"
    made_public = next(e for e in events if e.details.get("subject_type_reason"))
    assert made_public.actor == world.city_admin
    assert made_public.details["after"]["subject_type"] == "public"
