"""How far a department administrator reaches, attacked as a hostile district administrator
would (both backends, real HTTP against a live gateway): a department deleted under an
assignment, accounts holding more power than the admin, moves and look-alike paths."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from gateway.admin import roles as admin_roles
from gateway.admin.changes import CLI
from gateway.admin.reach import Reach
from store import roles as role_store
from store.tables import DepartmentRow, RoleAssignmentRow
from tests.gateway.admin.conftest import World
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
