"""How far a department administrator reaches, attacked as a hostile district administrator
would (both backends, real HTTP against a live gateway): a department deleted under an
assignment, accounts holding more power than the admin, moves and look-alike paths."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from gateway.admin import org
from gateway.admin import roles as admin_roles
from gateway.admin.changes import CLI
from gateway.admin.reach import Reach
from store import roles as role_store
from store.tables import DepartmentRow, RoleAssignmentRow
from tests.gateway.admin.conftest import World, make_account, sign_in_token
from tests.gateway.admin.test_admin_api import problem
from tests.gateway.helpers import second_instance

RACES = 40


async def global_role(world: World, name: str) -> str:
    async with second_instance(world.live.settings) as services:
        async with services.database.sessions() as session:
            role = await role_store.role_by_name(session, "", name)
        if role is None:
            role = await admin_roles.create_role(services, CLI, Reach.everywhere(), name)
    return role.id


async def test_an_assignment_never_outlives_its_department(world: World) -> None:
    """Assign admin:write inside a department while the department is deleted, many times at
    once: each pair ends with the assignment refused or the deletion refused, never an
    assignment to a missing department (which used to count as held everywhere)."""
    admin_write = await global_role(world, "admin:write")
    async with world.http(world.city_token) as http:
        for i in range(RACES):
            made = await http.post(
                "/departments", json={"id": f"gone{i}", "name": "临时", "parent_id": "east"}
            )
            assert made.status_code == 201, made.text

        async def assign(i: int):
            return await http.post(
                "/assignments",
                json={
                    "account_id": world.east_person,
                    "role_id": admin_write,
                    "department_id": f"gone{i}",
                },
            )

        async def delete(i: int):
            return await http.delete(f"/departments/gone{i}")

        answers = await asyncio.gather(*(f(i) for i in range(RACES) for f in (assign, delete)))
    for i in range(RACES):
        assigned, deleted = answers[2 * i], answers[2 * i + 1]
        assert assigned.status_code in (201, 422), assigned.text
        assert deleted.status_code in (204, 409), deleted.text
        # Exactly one of the two wins.
        assert (assigned.status_code == 201) != (deleted.status_code == 204), (
            assigned.text,
            deleted.text,
        )
        if deleted.status_code == 409:
            problem(deleted, 409)
        else:
            assert problem(assigned, 422)["errors"][0]["field"] == "body.department_id"
    async with second_instance(world.live.settings) as services:
        async with services.database.sessions() as session:
            departments = set(await session.scalars(select(DepartmentRow.id)))
            scoped = list(
                await session.scalars(
                    select(RoleAssignmentRow.department_id).where(
                        RoleAssignmentRow.department_id.is_not(None),
                        RoleAssignmentRow.department_id != "",
                    )
                )
            )
        held = await services.access.admin_scopes(world.east_person)
    assert set(scoped) <= departments
    assert "" not in held.get("admin:write", [])


async def test_a_district_admin_acts_only_on_accounts_with_no_more_power(world: World) -> None:
    """A city-wide administrator, or one of another district, whose home department lies in
    the district is out of the district admin's reach for every write; a junior admin of the
    district is not."""
    async with second_instance(world.live.settings) as services:
        mayor = await make_account(services, "mayor", "east-tax")
        await admin_roles.grant_admin(services, CLI, mayor, ["admin:read", "admin:write"])
        neighbour = await make_account(services, "neighbour", "east-tax")
        await admin_roles.grant_admin(services, CLI, neighbour, ["admin:write"], "west")
        junior = await make_account(services, "junior", "east-tax")
        await admin_roles.grant_admin(services, CLI, junior, ["admin:read"], "east-tax")
    clerk = await global_role(world, "clerk")
    async with world.http(world.city_token) as city:
        scoped = await city.post(
            "/assignments",
            json={"account_id": mayor, "role_id": clerk, "department_id": "east-tax"},
        )
        assert scoped.status_code == 201, scoped.text
    async with world.http(world.east_token) as east:
        made = await east.post(
            "/groups", json={"id": "east-team", "name": "组", "department_id": "east"}
        )
        assert made.status_code == 201, made.text
        for target in (mayor, neighbour):
            account = f"/accounts/{target}"
            writes = [
                east.patch(account, json={"disabled": True}),
                east.patch(account, json={"department_id": "east"}),
                east.delete(f"{account}/sessions"),
                east.delete(f"{account}/otp"),
                east.post(f"{account}/unlock"),
                east.delete(f"{account}/links/ldap-east"),
                east.put(f"/groups/east-team/members/{target}"),
                east.delete(f"/groups/east-team/members/{target}"),
                east.post(
                    "/assignments",
                    json={"account_id": target, "role_id": clerk, "department_id": "east"},
                ),
            ]
            for answer in await asyncio.gather(*writes):
                assert "beyond" in problem(answer, 403)["detail"], answer.request.url
            # Reading stays allowed: the account is in the district.
            assert (await east.get(account)).status_code == 200
        problem(await east.delete(f"/assignments/{scoped.json()['id']}"), 403)
        # An admin of less power inside the district is the district's to manage.
        disabled = await east.patch(f"/accounts/{junior}", json={"disabled": True})
        assert disabled.status_code == 200 and disabled.json()["disabled"] is True
    async with second_instance(world.live.settings) as services:
        for target in (mayor, neighbour):
            account = await services.accounts.get(target)
            assert account is not None and not account.disabled
            assert account.department_id == "east-tax"
        assert "" in (await services.access.admin_scopes(mayor))["admin:write"]


async def test_look_alike_paths_do_not_reach_into_another_subtree(world: World) -> None:
    """A department whose id is a prefix of another's, or holds a LIKE wildcard, reaches only
    its own subtree."""
    async with second_instance(world.live.settings) as services:
        everywhere = Reach.everywhere()
        await org.create_department(services, CLI, everywhere, "eas", "东", "city")
        await org.create_department(services, CLI, everywhere, "e_st", "东区?", "city")
        for department in ("eas", "e_st"):
            admin = await make_account(services, f"admin-{department}", department)
            await admin_roles.grant_admin(
                services, CLI, admin, ["admin:read", "admin:write"], department
            )
    for department in ("eas", "e_st"):
        token = await sign_in_token(world.live, world.admin_client, f"admin-{department}")
        async with world.http(token) as http:
            accounts = (await http.get("/accounts")).json()
            assert [a["username"] for a in accounts["items"]] == [f"admin-{department}"]
            departments = (await http.get("/departments")).json()
            assert [d["id"] for d in departments["items"]] == [department]
            problem(await http.get(f"/accounts/{world.east_person}"), 404)
            problem(
                await http.patch(f"/accounts/{world.east_person}", json={"disabled": True}), 404
            )
            assignments = (await http.get("/assignments")).json()["items"]
            assert {a["department_id"] for a in assignments} == {department}  # its own two
            problem(await http.get("/departments/east-tax"), 404)


async def test_a_district_admin_cannot_move_or_grant_its_way_out_of_its_subtree(
    world: World,
) -> None:
    admin_write = await global_role(world, "admin:write")
    async with world.http(world.east_token) as east:
        # Departments: not out of the subtree, not into it from elsewhere, not to the top.
        moved = await east.patch("/departments/east-tax", json={"parent_id": "west"})
        assert problem(moved, 422)["errors"][0]["field"] == "body.parent_id"
        problem(await east.patch("/departments/west", json={"parent_id": "east-tax"}), 404)
        problem(await east.patch("/departments/east", json={"parent_id": None}), 403)
        problem(await east.patch("/departments/east", json={"parent_id": "city"}), 422)
        problem(await east.patch("/departments/east", json={"parent_id": "east-tax"}), 409)
        problem(await east.post("/departments", json={"id": "top", "name": "顶"}), 403)
        # Admin roles: not to itself or anyone beyond its subtree, not everywhere.
        for department in ("west", "city", None):
            answer = await east.post(
                "/assignments",
                json={
                    "account_id": world.east_admin,
                    "role_id": admin_write,
                    "department_id": department,
                },
            )
            problem(answer, 422)
        answer = await east.post(
            "/assignments",
            json={"account_id": world.west_person, "role_id": admin_write, "department_id": "east"},
        )
        problem(answer, 422)
        # An account cannot be moved out of the subtree either.
        moved = await east.patch(f"/accounts/{world.east_person}", json={"department_id": "west"})
        problem(moved, 422)
    async with second_instance(world.live.settings) as services:
        held = await services.access.admin_scopes(world.east_admin)
        person = await services.accounts.get(world.east_person)
    assert held == {"admin:read": ["/city/east"], "admin:write": ["/city/east"]}
    assert person is not None and person.department_id == "east-tax"
