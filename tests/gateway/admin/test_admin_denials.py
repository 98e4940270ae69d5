"""Refused admin attempts leave an ``admin.denied`` entry (actor, operation, reason), for every
write endpoint, and one caller cannot fill the audit log with them."""

from __future__ import annotations

import httpx
import pytest

from gateway.admin import denials as denial_audit
from gateway.admin.http import ENDPOINTS
from store import audit as audit_store
from tests.gateway.admin.conftest import World
from tests.gateway.helpers import second_instance

WRITES = {"POST", "PUT", "PATCH", "DELETE"}


async def denials(world: World, **filters: object) -> list:
    async with (
        second_instance(world.live.settings) as services,
        services.database.sessions() as session,
    ):
        return await audit_store.query(session, event="admin.denied", limit=1000, **filters)


def bodies(world: World) -> dict[str, dict]:
    """Valid bodies that reach out of the district (or are city-wide matters)."""
    west = {"department_id": "west"}
    return {
        "create_client": {"client_name": "x", "redirect_uris": ["https://x.example/cb"], **west},
        "patch_client": {"client_name": "x"},
        "create_department": {"id": "x1", "name": "x", "parent_id": "west"},
        "patch_department": {"name": "x"},
        "create_group": {"id": "g1", "name": "g", **west},
        "patch_group": {"name": "g"},
        "create_role": {"name": "global-thing"},
        "patch_role": {"name": "r"},
        "create_assignment": {
            "account_id": world.west_person,
            "role_id": "nothing-here",
            "department_id": "east",
        },
        "patch_account": {"disabled": True},
        "add_provider": {"id": "ldap-x", "type": "ldap", "config": {}},
        "create_resource": {"audience": "https://x.example/", "scopes": ["x.read"]},
        "set_client_state": {"state": "suspended"},
        "set_provider_disabled": {"disabled": True},
        "import_departments": {"rows": [{"id": "x1", "name": "x", "parent_id": "west"}]},
        "import_accounts": {"rows": [{"username": "x1", "name": "x", **west}]},
    }


def concrete(path: str) -> str:
    return path.format(
        **{
            name: "nothing-here"
            for name in (
                "client_id",
                "department_id",
                "group_id",
                "account_id",
                "role_id",
                "assignment_id",
                "provider_id",
                "device_id",
                "session_id",
            )
        }
    )


async def test_every_refused_admin_write_is_audited_with_actor_operation_and_reason(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The district admin tries every write endpoint on things outside its reach (or that are
    city-wide matters); each refusal is one audit entry naming the operation."""
    monkeypatch.setattr(denial_audit, "BURST", 1000)
    writes = [e for e in ENDPOINTS if e.method in WRITES]
    assert len(writes) > 20
    tried = set()
    valid = bodies(world)
    async with world.http(world.east_token) as east:
        for endpoint in writes:
            path = concrete(endpoint.path)
            body = valid.get(endpoint.operation_id, {}) if endpoint.body else None
            answer = await east.request(endpoint.method, path, json=body)
            # Naming a department elsewhere is refused as out of reach (422), the rest 403/404.
            assert answer.status_code in (403, 404, 422), (endpoint.operation_id, answer.text)
            tried.add(endpoint.operation_id)
    recorded = await denials(world, actor=world.east_admin)
    by_operation = {e.details["operation"]: e for e in recorded if not e.details.get("suppressed")}
    assert tried == set(by_operation)
    for event in recorded:
        assert event.outcome == "denied" and event.client_id == world.admin_client.client.client_id
        assert event.details["reason"] and event.details["status"] in (403, 404, 422)


async def test_refusals_of_reach_and_power_are_audited(world: World) -> None:
    async with world.http(world.east_token) as east:
        assert (
            await east.patch(f"/accounts/{world.west_person}", json={"disabled": True})
        ).status_code == 404
        assert (await east.delete(f"/accounts/{world.city_admin}/sessions")).status_code == 404
        assert (await east.get("/keys")).status_code == 403
        moved = await east.patch(f"/accounts/{world.east_person}", json={"department_id": "west"})
        assert moved.status_code == 422
    async with httpx.AsyncClient(base_url=world.live.url + "/admin/api/v1") as anonymous:
        assert (await anonymous.delete("/departments/east")).status_code == 401
        forged = {"Authorization": "Bearer not-a-token"}
        assert (await anonymous.post("/keys/rotate", headers=forged)).status_code == 401
    recorded = await denials(world)
    seen = [(e.actor, e.details["operation"], e.details["status"], e.target) for e in recorded]
    assert seen == [
        (world.east_admin, "patch_account", 404, world.west_person),
        (world.east_admin, "revoke_sessions", 404, world.city_admin),
        (world.east_admin, "list_keys", 403, None),
        (world.east_admin, "patch_account", 422, world.east_person),
        (None, "delete_department", 401, "east"),
        (None, "rotate_key", 401, None),
    ]
    assert "outside" in recorded[2].details["reason"] or recorded[2].details["reason"]


async def test_one_caller_cannot_fill_the_audit_log_with_refusals(world: World) -> None:
    burst = denial_audit.BURST
    async with world.http(world.east_token) as east:
        for _ in range(burst * 5):
            answer = await east.delete("/departments/west")
            assert answer.status_code == 404
    recorded = await denials(world, actor=world.east_admin)
    minutes: dict[int, list] = {}
    for event in recorded:
        minutes.setdefault(int(event.at // denial_audit.WINDOW), []).append(event)
    # At most the budget and one "suppressed" entry a minute (the run may cross a minute).
    assert all(len(found) <= burst + 1 for found in minutes.values())
    assert any(found[-1].details.get("suppressed") for found in minutes.values())
    assert burst + 1 <= len(recorded) <= 2 * (burst + 1)
    # Another caller keeps its own budget.
    async with world.http(world.city_token) as city:
        assert (await city.delete("/departments/nowhere")).status_code == 404
    assert len(await denials(world, actor=world.city_admin)) == 1
