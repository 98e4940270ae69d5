"""The admin API's bulk import: rows as JSON, a dry run's report, a refused batch as a 422
naming each failing row (audited as a refusal when a row reaches outside), and the batch's one
audit entry; a department administrator only inside its subtree."""

from __future__ import annotations

from store import audit as audit_store
from store import organisation
from tests.gateway.admin.conftest import World
from tests.gateway.helpers import second_instance

NATIONAL_ID = "11010519491231002X"
ROWS = [
    {"id": "east-a", "name": "东区甲街道", "parent_id": "east"},
    {"id": "east-a-1", "name": "甲社区", "parent_id": "east-a"},
]


async def entries(world: World, event: str) -> list:
    async with (
        second_instance(world.live.settings) as services,
        services.database.sessions() as session,
    ):
        return await audit_store.query(session, event=event, limit=100)


async def exists(world: World, department_id: str) -> bool:
    async with (
        second_instance(world.live.settings) as services,
        services.database.sessions() as session,
    ):
        return await organisation.get_department(session, department_id) is not None


async def test_a_district_admin_checks_then_imports_inside_its_district(world: World) -> None:
    async with world.http(world.east_token) as east:
        checked = await east.post("/imports/departments", json={"rows": ROWS, "dry_run": True})
        assert checked.status_code == 200, checked.text
        report = checked.json()
        assert report["applied"] is False and report["created"] == 2 and report["failed"] == 0
        assert not await exists(world, "east-a")
        done = await east.post("/imports/departments", json={"rows": ROWS})
        assert done.status_code == 200 and done.json()["applied"] is True
        again = (await east.post("/imports/departments", json={"rows": ROWS})).json()
        assert again["applied"] and again["unchanged"] == 2 and again["created"] == 0
        where = {"department_id": "east-a-1"}
        people = [
            {"username": "jia.1", "name": "甲一", **where},
            {"username": "jia.2", "name": "甲二", "phone": "13700137000", **where},
        ]
        made = await east.post("/imports/accounts", json={"rows": people})
        assert made.status_code == 200 and made.json()["created"] == 2
    recorded = await entries(world, "admin.import.departments")
    assert [(e.actor, e.details["created"], e.details["unchanged"]) for e in recorded] == [
        (world.east_admin, 2, 0),
        (world.east_admin, 0, 2),
    ]
    assert recorded[0].client_id == world.admin_client.client.client_id
    assert len(recorded[0].details["sha256"]) == 64


async def test_rows_outside_the_district_refuse_the_batch_and_are_audited(world: World) -> None:
    rows = [*ROWS, {"id": "west-x", "name": "西区某处", "parent_id": "west"}]
    async with world.http(world.east_token) as east:
        checked = (
            await east.post("/imports/departments", json={"rows": rows, "dry_run": True})
        ).json()
        assert [(r["row"], r["outcome"]) for r in checked["rows"]] == [
            (1, "created"),
            (2, "created"),
            (3, "failed"),
        ]
        assert "west" in checked["rows"][2]["reason"]
        refused = await east.post("/imports/departments", json={"rows": rows})
    assert refused.status_code == 422
    problem = refused.json()
    assert [e["loc"] for e in problem["errors"]] == [["body", "rows", 2]]
    assert "nothing was kept" in problem["detail"]
    assert not await exists(world, "east-a")  # the good rows were not kept either
    denied = await entries(world, "admin.denied")
    # The dry run's refusal as well as the batch's.
    assert [e.details["operation"] for e in denied] == ["import_departments"] * 2
    assert await entries(world, "admin.import.departments") == []


async def test_a_dry_run_confirms_nothing_about_people_outside_the_district(world: World) -> None:
    # A dry run told a district administrator which guessed name and department an account
    # elsewhere has ("exists already, outside your departments" only for the right guess) and
    # whether an ID number had an account anywhere in the city, and audited none of it.
    async with world.http(world.city_token) as city:
        west = {"username": "west-nid", "name": "西区某人", "department_id": "west"}
        made = await city.post(
            "/imports/accounts", json={"rows": [{**west, "national_id": NATIONAL_ID}]}
        )
        assert made.status_code == 200, made.text
    guesses = [
        {"username": "west-person", "name": "王小明", "department_id": "west"},  # right
        {"username": "west-person", "name": "李四", "department_id": "west"},  # wrong
        {"username": "east-nid", "name": "东区某人", "department_id": "east",
         "national_id": NATIONAL_ID},
    ]  # fmt: skip
    reasons = []
    async with world.http(world.east_token) as east:
        for row in guesses:
            checked = await east.post("/imports/accounts", json={"rows": [row], "dry_run": True})
            assert checked.status_code == 200, checked.text
            reasons.append(checked.json()["rows"][0]["reason"])
    assert reasons[0] == reasons[1], reasons
    assert "national_id" in reasons[2]
    denied = await entries(world, "admin.denied")
    assert [(e.actor, e.details["operation"]) for e in denied] == [
        (world.east_admin, "import_accounts")
    ] * 3


async def test_the_body_is_checked_as_the_document_says(world: World) -> None:
    async with world.http(world.city_token) as city:
        assert (await city.post("/imports/accounts", json={"rows": []})).status_code == 422
        unknown = await city.post("/imports/accounts", json={"rows": [{"password": "x"}]})
        assert unknown.status_code == 422
        document = (await city.get("/openapi.json")).json()
    operation = document["paths"]["/imports/accounts"]["post"]
    assert operation["x-required-scope"] == "admin:write" and "422" in operation["responses"]
