"""The organisation tables on SQLite and PostgreSQL: the department tree, roles held within
subtrees, versioned policies and the append-only audit log."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from store import audit, client_policies, organisation, roles
from store.database import Database
from store.errors import Conflict, InUse, NotFound, StaleVersion
from store.records import AuditEvent
from store.tables import Base

NOW = 1_800_000_000.0


async def test_migrations_build_exactly_the_declared_schema(database: Database) -> None:
    def differences(connection: object) -> list[object]:
        context = MigrationContext.configure(connection)  # type: ignore[arg-type]
        return compare_metadata(context, Base.metadata)

    async with database.engine.connect() as connection:
        assert await connection.run_sync(differences) == []


async def test_a_subtree_moves_with_its_department(database: Database) -> None:
    async with database.transaction() as s:
        await organisation.create_department(s, "city", "市", None, NOW)
        await organisation.create_department(s, "east", "东区", "city", NOW)
        await organisation.create_department(s, "west", "西区", "city", NOW)
        await organisation.create_department(s, "tax", "税务", "east", NOW)
        await organisation.create_department(s, "audit", "稽查", "tax", NOW)
    async with database.transaction() as s:
        moved = await organisation.update_department(
            s, "tax", 1, NOW + 1, parent_id="west", move=True
        )
    assert moved.path == "/city/west/tax" and moved.version == 2
    async with database.sessions() as s:
        below = await organisation.get_department(s, "audit")
        listed, total = await organisation.list_departments(s, "/city/west", 0, 10)
    assert below is not None and below.path == "/city/west/tax/audit"
    assert [d.id for d in listed] == ["west", "tax", "audit"] and total == 3


async def test_a_department_cannot_move_below_itself_or_go_while_used(database: Database) -> None:
    async with database.transaction() as s:
        await organisation.create_department(s, "city", "市", None, NOW)
        await organisation.create_department(s, "east", "东区", "city", NOW)
    with pytest.raises(InUse):
        async with database.transaction() as s:
            await organisation.update_department(s, "city", None, NOW, parent_id="east", move=True)
    with pytest.raises(InUse):
        async with database.transaction() as s:
            await organisation.delete_department(s, "city", None)
    with pytest.raises(StaleVersion):
        async with database.transaction() as s:
            await organisation.delete_department(s, "east", 7)
    with pytest.raises(Conflict):
        async with database.transaction() as s:
            await organisation.create_department(s, "east", "again", None, NOW)
    async with database.transaction() as s:
        await organisation.delete_department(s, "east", 1)
        assert await organisation.get_department(s, "east") is None


async def test_held_roles_skip_expired_ones_and_carry_their_subtree(database: Database) -> None:
    async with database.transaction() as s:
        await organisation.create_department(s, "city", "市", None, NOW)
        await organisation.create_department(s, "tax", "税务", "city", NOW)
        app = await roles.create_role(s, "r1", "tax-app", "approver", "", NOW)
        everywhere = await roles.create_role(s, "r2", "", "auditor", "", NOW)
        other = await roles.create_role(s, "r3", "other-app", "clerk", "", NOW)
        await roles.assign(s, "a1", app.id, "acc", "tax", "admin", NOW, None)
        await roles.assign(s, "a2", everywhere.id, "acc", "", "admin", NOW, NOW + 60)
        await roles.assign(s, "a3", other.id, "acc", "", "admin", NOW, None)
        with pytest.raises(Conflict):
            await roles.assign(s, "a4", app.id, "acc", "tax", "admin", NOW, None)
        with pytest.raises(NotFound):
            await roles.assign(s, "a5", "missing", "acc", "", "admin", NOW, None)
    async with database.sessions() as s:
        now_held = await roles.held_roles(s, "acc", ["tax-app", ""], NOW + 30)
        later = await roles.held_roles(s, "acc", ["tax-app", ""], NOW + 61)
        inside, total = await roles.list_assignments(s, 0, 10, under="/city")
    assert sorted((r.name, path) for r, path in now_held) == [
        ("approver", "/city/tax"),
        ("auditor", ""),
    ]
    assert [(r.name, path) for r, path in later] == [("approver", "/city/tax")]
    assert [a.id for a in inside] == ["a1"] and total == 1


async def test_a_policy_edit_needs_the_version_it_read(database: Database) -> None:
    async with database.transaction() as s:
        first = await client_policies.put_policy(s, "app", {"min_acr": "L2"}, None, NOW)
    assert first.version == 1
    async with database.transaction() as s:
        second = await client_policies.put_policy(s, "app", {"min_acr": "L3"}, 1, NOW)
    assert second.version == 2 and second.document == {"min_acr": "L3"}
    with pytest.raises(StaleVersion):
        async with database.transaction() as s:
            await client_policies.put_policy(s, "app", {"min_acr": "L1"}, 1, NOW)
    async with database.sessions() as s:
        kept = await client_policies.get_policy(s, "app")
    assert kept is not None and kept.document == {"min_acr": "L3"}


async def test_the_audit_log_refuses_updates_and_deletes(database: Database) -> None:
    async with database.transaction() as s:
        await audit.append(s, AuditEvent("admin.x", actor="root", at=NOW, details={"a": 1}))
        await audit.append(s, AuditEvent("login.failed", outcome="failure", at=NOW + 1))
    for statement in ("UPDATE audit_events SET actor = 'someone else'", "DELETE FROM audit_events"):
        with pytest.raises((IntegrityError, DBAPIError)):
            async with database.transaction() as s:
                await s.execute(text(statement))
    async with database.sessions() as s:
        admin = await audit.query(s, event="admin.*")
        after_first = await audit.query(s, after_id=admin[0].id or 0)
    assert [e.actor for e in admin] == ["root"] and admin[0].details == {"a": 1}
    assert [e.event for e in after_first] == ["login.failed"]
