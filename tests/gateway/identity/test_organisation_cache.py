"""The organisation facts the authorization endpoint reads (roles, groups, department paths),
kept in memory on PostgreSQL: every change, by the gateway or an operator's SQL, is heard, and
a role's expiry counts at the moment of the visit, not when the facts were read."""

from __future__ import annotations

import dataclasses
import time

import pytest

from gateway.identity.client_policy import DEFAULT_POLICY
from gateway.server.services import Services, initialize
from store.organisation import create_department, update_department
from store.records import Account
from store.roles import assign, create_role
from tests.gateway.helpers import second_instance
from tests.gateway.identity.test_account_cache import _create, _eventually, _sql

PER_ACCOUNT_TRIGGER = "role_assignments_organisation_changed"


@pytest.fixture
async def settings(settings_for):
    built = settings_for("services")
    await initialize(built)
    return built


async def _org(instance: Services, account: Account) -> tuple[tuple[str, ...], tuple[str, ...]]:
    org, _ = await instance.access.organisation(account, "app", DEFAULT_POLICY)
    return org.roles, org.groups


async def test_role_and_group_changes_anywhere_are_heard(settings) -> None:
    url = settings.database_url
    async with second_instance(settings) as instance:
        account = await _create(instance, "org.user")
        async with instance.database.transaction() as session:
            await create_role(session, "r1", "app", "editor", "", 1.0)
        assert await _org(instance, account) == ((), ())

        # Through the store, as the admin API assigns.
        async with instance.database.transaction() as session:
            await assign(session, "as1", "r1", account.id, "", "admin", 1.0, None)

        async def editor() -> bool:
            return await _org(instance, account) == (("editor",), ())

        await _eventually(editor)

        # A write PostgreSQL does not announce is not seen: the facts come from memory.
        await _sql(url, f"ALTER TABLE role_assignments DISABLE TRIGGER {PER_ACCOUNT_TRIGGER}")
        await _sql(url, "DELETE FROM role_assignments WHERE id = 'as1'")
        assert await _org(instance, account) == (("editor",), ())
        await _sql(url, f"ALTER TABLE role_assignments ENABLE TRIGGER {PER_ACCOUNT_TRIGGER}")
        await _sql(
            url,
            "INSERT INTO role_assignments (id, role_id, account_id, granted_by, created_at) "
            "VALUES ('as2', 'r1', $1, 'sql', now())",
            account.id,
        )
        # Renaming the role changes everybody's facts; a group joined by plain SQL is heard.
        await _sql(url, "UPDATE roles SET name = 'writer' WHERE id = 'r1'")

        async def writer() -> bool:
            return await _org(instance, account) == (("writer",), ())

        await _eventually(writer)
        await _sql(
            url,
            "INSERT INTO groups (id, name, version, created_at, updated_at) "
            "VALUES ('g1', 'G', 1, now(), now())",
        )
        await _sql(
            url,
            "INSERT INTO group_members (group_id, account_id, added_at) VALUES ('g1', $1, now())",
            account.id,
        )

        async def grouped() -> bool:
            return await _org(instance, account) == (("writer",), ("g1",))

        await _eventually(grouped)
        # Deleting the group takes its members with it (a cascade): heard as well.
        await _sql(url, "DELETE FROM groups WHERE id = 'g1'")

        async def ungrouped() -> bool:
            return await _org(instance, account) == (("writer",), ())

        await _eventually(ungrouped)


async def test_a_role_expires_though_its_facts_are_kept(settings) -> None:
    async with second_instance(settings) as instance:
        account = await _create(instance, "expiring.user")
        async with instance.database.transaction() as session:
            await create_role(session, "r1", "app", "editor", "", 1.0)
            await assign(session, "as1", "r1", account.id, "", "admin", 1.0, time.time() + 1.5)

        async def editor() -> bool:
            return await _org(instance, account) == (("editor",), ())

        await _eventually(editor)  # read, and kept

        async def expired() -> bool:
            return await _org(instance, account) == ((), ())

        await _eventually(expired)  # no write announced it: the visit's own clock did


async def test_a_department_move_is_heard(settings) -> None:
    async with second_instance(settings) as instance:
        account = await _create(instance, "moved.user")
        async with instance.database.transaction() as session:
            await create_department(session, "city", "City", None, 1.0)
            await create_department(session, "province", "Province", None, 1.0)
        placed = dataclasses.replace(account, department_id="city")

        async def department() -> str | None:
            org, _ = await instance.access.organisation(placed, "app", DEFAULT_POLICY)
            return org.department

        assert await department() == "/city"
        async with instance.database.transaction() as session:
            await update_department(session, "city", None, 2.0, parent_id="province", move=True)

        async def moved() -> bool:
            return await department() == "/province/city"

        await _eventually(moved)
