"""Queries and edits only administration needs: listings limited to department subtrees, roles,
groups and assignments by id, and compare-and-swap updates of rows without a version column.
Functions take the caller's session, so a change and its audit entry commit together."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store import audit
from store.errors import NotFound, StaleVersion
from store.organisation import department_record, group_record, within
from store.records import Department, Group, LinkedIdentity, Role, RoleAssignment
from store.roles import assignment_record, role_record, scoped_to
from store.tables import (
    AccountRow,
    AuditEventRow,
    ClientRow,
    DepartmentRow,
    GroupMemberRow,
    GroupRow,
    LinkedIdentityRow,
    RoleAssignmentRow,
    RoleRow,
)
from store.versioned import update_versioned


def in_subtrees(column: Any, paths: Sequence[str] | None) -> ColumnElement[bool] | None:
    """SQL condition: ``column`` (a department id) names a department inside one of the
    subtrees ``paths``; None when nothing limits it (None, or "" meaning the whole city)."""
    if paths is None or "" in paths:
        return None
    if not paths:
        return column.in_([])  # reaches nothing
    inside = select(DepartmentRow.id).where(or_(*[within(path) for path in paths]))
    return column.in_(inside)


async def page(
    session: AsyncSession,
    query: Any,
    order: Sequence[Any],
    offset: int,
    limit: int,
    count_limit: int | None = None,
) -> tuple[list[Any], int]:
    """A page of ``query`` and how many match in all; with ``count_limit``, counting stops past
    it (the total is then ``count_limit + 1``): a count of a million rows is the slow part."""
    counted = query if count_limit is None else query.limit(count_limit + 1)
    total = await session.scalar(select(func.count()).select_from(counted.subquery()))
    rows = await session.scalars(query.order_by(*order).offset(offset).limit(limit))
    return list(rows), int(total or 0)


async def update_stamped(
    session: AsyncSession,
    table: Any,
    key_column: Any,
    key: str,
    expected: float | None,
    values: dict[str, Any],
    now: float,
) -> Any:
    """Compare-and-swap on ``updated_at`` for rows without a version column: the update happens
    only while the row still carries the ``updated_at`` the editor read (None: any)."""
    row = await session.get(table, key, with_for_update=True, populate_existing=True)
    if row is None:
        raise NotFound(f"{table.__tablename__} {key!r}")
    if expected is not None and row.updated_at != expected:
        raise StaleVersion(f"{table.__tablename__} {key!r} changed")
    # Strictly later, so that two edits within one clock tick still differ.
    stamp = max(now, row.updated_at + 0.001)
    result = await session.execute(
        update(table)
        .where(key_column == key, table.updated_at == row.updated_at)
        .values(**values, updated_at=stamp)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise StaleVersion(f"{table.__tablename__} {key!r} changed meanwhile")
    return await session.get(table, key, populate_existing=True)


async def delete_stamped(
    session: AsyncSession, table: Any, key_column: Any, key: str, expected: float | None
) -> None:
    condition = [key_column == key]
    if expected is not None:
        condition.append(table.updated_at == expected)
    result = await session.execute(delete(table).where(*condition))
    if result.rowcount != 1:  # type: ignore[attr-defined]
        if await session.get(table, key) is None:
            raise NotFound(f"{table.__tablename__} {key!r}")
        raise StaleVersion(f"{table.__tablename__} {key!r} changed")


# -- departments ----------------------------------------------------------------------------------


async def list_departments(
    session: AsyncSession,
    paths: Sequence[str] | None,
    offset: int,
    limit: int,
    under: str | None = None,
    *,
    parent_id: str | None = None,
    name: str | None = None,
) -> tuple[list[Department], int]:
    """Departments inside the subtrees ``paths`` (None: all), optionally below ``under``, the
    children of ``parent_id`` only ("": the top level), or those whose name contains ``name``."""
    query = select(DepartmentRow)
    if (limit_to := in_subtrees(DepartmentRow.id, paths)) is not None:
        query = query.where(limit_to)
    if under is not None:
        query = query.where(within(under))
    if parent_id == "":  # the top level
        query = query.where(DepartmentRow.parent_id.is_(None))
    elif parent_id is not None:
        query = query.where(DepartmentRow.parent_id == parent_id)
    if name is not None:
        query = query.where(DepartmentRow.name.contains(name, autoescape=True))
    rows, total = await page(session, query, [DepartmentRow.path], offset, limit)
    return [department_record(row) for row in rows], total


async def client_ids_within(session: AsyncSession, paths: Sequence[str]) -> list[str]:
    """The apps owned by departments inside the subtrees ``paths``."""
    query = select(ClientRow.client_id)
    if (limit_to := in_subtrees(ClientRow.department_id, paths)) is not None:
        query = query.where(limit_to)
    return list(await session.scalars(query))


# -- roles and assignments ------------------------------------------------------------------------


async def get_role(session: AsyncSession, role_id: str) -> Role | None:
    row = await session.get(RoleRow, role_id, populate_existing=True)
    return None if row is None else role_record(row)


async def update_role(
    session: AsyncSession, role_id: str, expected: int | None, values: dict[str, Any]
) -> Role:
    await update_versioned(session, RoleRow, role_id, expected, values)
    role = await get_role(session, role_id)
    assert role is not None
    return role


async def delete_role(session: AsyncSession, role_id: str, expected: int | None) -> None:
    """Delete a role and its assignments (compare on the version first)."""
    condition = [RoleRow.id == role_id]
    if expected is not None:
        condition.append(RoleRow.version == expected)
    await session.execute(delete(RoleAssignmentRow).where(RoleAssignmentRow.role_id == role_id))
    result = await session.execute(delete(RoleRow).where(*condition))
    if result.rowcount != 1:  # type: ignore[attr-defined]
        if await session.get(RoleRow, role_id) is None:
            raise NotFound(f"role {role_id!r}")
        raise StaleVersion(f"role {role_id!r} changed")


async def list_roles(
    session: AsyncSession,
    owners: Sequence[str] | None,
    offset: int,
    limit: int,
    name: str | None = None,
) -> tuple[list[Role], int]:
    query = select(RoleRow)
    if owners is not None:
        query = query.where(RoleRow.client_id.in_(list(owners)))
    if name is not None:
        query = query.where(RoleRow.name == name)
    rows, total = await page(session, query, [RoleRow.client_id, RoleRow.name], offset, limit)
    return [role_record(row) for row in rows], total


async def get_assignment(session: AsyncSession, assignment_id: str) -> RoleAssignment | None:
    row = await session.get(RoleAssignmentRow, assignment_id, populate_existing=True)
    return None if row is None else assignment_record(row)


async def delete_assignment(session: AsyncSession, assignment_id: str) -> None:
    result = await session.execute(
        delete(RoleAssignmentRow).where(RoleAssignmentRow.id == assignment_id)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise NotFound(f"assignment {assignment_id!r}")


async def list_assignments(
    session: AsyncSession,
    paths: Sequence[str] | None,
    offset: int,
    limit: int,
    account_id: str | None = None,
    role_id: str | None = None,
    department_id: str | None = None,
    client_id: str | None = None,
    holders_in: Sequence[str] | None = None,
) -> tuple[list[RoleAssignment], int]:
    """Assignments, those scoped inside the subtrees ``paths`` (None: all of them) and held by
    accounts of departments inside the subtrees ``holders_in`` (None: by anyone)."""
    query = select(RoleAssignmentRow)
    if (limit_to := in_subtrees(RoleAssignmentRow.department_id, paths)) is not None:
        query = query.where(limit_to)
    if (holders := in_subtrees(AccountRow.department_id, holders_in)) is not None:
        query = query.where(RoleAssignmentRow.account_id.in_(select(AccountRow.id).where(holders)))
    if account_id is not None:
        query = query.where(RoleAssignmentRow.account_id == account_id)
    if role_id is not None:
        query = query.where(RoleAssignmentRow.role_id == role_id)
    if department_id is not None:
        query = query.where(scoped_to(department_id))
    if client_id is not None:
        owned = select(RoleRow.id).where(RoleRow.client_id == client_id)
        query = query.where(RoleAssignmentRow.role_id.in_(owned))
    order = [RoleAssignmentRow.created_at, RoleAssignmentRow.id]
    rows, total = await page(session, query, order, offset, limit)
    return [assignment_record(row) for row in rows], total


# -- groups ---------------------------------------------------------------------------------------


async def get_group(session: AsyncSession, group_id: str) -> Group | None:
    row = await session.get(GroupRow, group_id, populate_existing=True)
    return None if row is None else group_record(row)


async def list_groups(
    session: AsyncSession,
    paths: Sequence[str] | None,
    offset: int,
    limit: int,
    department_id: str | None = None,
) -> tuple[list[Group], int]:
    query = select(GroupRow)
    if (limit_to := in_subtrees(GroupRow.department_id, paths)) is not None:
        query = query.where(limit_to)
    if department_id is not None:
        query = query.where(GroupRow.department_id == department_id)
    rows, total = await page(session, query, [GroupRow.id], offset, limit)
    return [group_record(row) for row in rows], total


async def update_group(
    session: AsyncSession, group_id: str, expected: int | None, values: dict[str, Any]
) -> Group:
    await update_versioned(session, GroupRow, group_id, expected, values)
    group = await get_group(session, group_id)
    assert group is not None
    return group


async def delete_group(session: AsyncSession, group_id: str, expected: int | None) -> None:
    condition = [GroupRow.id == group_id]
    if expected is not None:
        condition.append(GroupRow.version == expected)
    await session.execute(delete(GroupMemberRow).where(GroupMemberRow.group_id == group_id))
    result = await session.execute(delete(GroupRow).where(*condition))
    if result.rowcount != 1:  # type: ignore[attr-defined]
        if await session.get(GroupRow, group_id) is None:
            raise NotFound(f"group {group_id!r}")
        raise StaleVersion(f"group {group_id!r} changed")


async def members_of(
    session: AsyncSession, group_id: str, offset: int, limit: int
) -> tuple[list[tuple[str, float]], int]:
    query = select(GroupMemberRow).where(GroupMemberRow.group_id == group_id)
    rows, total = await page(session, query, [GroupMemberRow.account_id], offset, limit)
    return [(row.account_id, row.added_at) for row in rows], total


# -- linked department logins ---------------------------------------------------------------------

_LINK_FIELDS = ("provider_id", "subject", "account_id", "first_login_at", "last_login_at")


async def links_of(session: AsyncSession, account_id: str) -> list[LinkedIdentity]:
    rows = await session.scalars(
        select(LinkedIdentityRow)
        .where(LinkedIdentityRow.account_id == account_id)
        .order_by(LinkedIdentityRow.provider_id, LinkedIdentityRow.subject)
    )
    return [
        LinkedIdentity(**{n: getattr(r, n) for n in _LINK_FIELDS}, last_attributes="") for r in rows
    ]


async def unlink(
    session: AsyncSession, account_id: str, provider_id: str, subject: str | None
) -> list[str]:
    """Remove the account's links to ``provider_id`` (one subject, or all); the subjects gone."""
    condition = [
        LinkedIdentityRow.account_id == account_id,
        LinkedIdentityRow.provider_id == provider_id,
    ]
    if subject is not None:
        condition.append(LinkedIdentityRow.subject == subject)
    subjects = list(await session.scalars(select(LinkedIdentityRow.subject).where(*condition)))
    if subjects:
        await session.execute(delete(LinkedIdentityRow).where(*condition))
    return subjects


# -- the audit log --------------------------------------------------------------------------------


async def count_audit(session: AsyncSession, count_limit: int | None = None, **filters: Any) -> int:
    """How many events match the filters of ``store.audit.query`` (whatever the cursor); with
    ``count_limit``, at most ``count_limit + 1``."""
    matched = select(AuditEventRow.id).where(*audit.matching(**filters))
    if count_limit is not None:
        matched = matched.limit(count_limit + 1)
    statement = select(func.count()).select_from(matched.subquery())
    return int(await session.scalar(statement) or 0)
