"""Roles (global, or defined by one app) and their assignments to accounts within a department
subtree. Functions take the caller's session (see store/organisation.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from store.errors import Conflict, NotFound
from store.paths import at_or_below
from store.records import Role, RoleAssignment
from store.tables import DepartmentRow, RoleAssignmentRow, RoleRow

_ROLE = [f.name for f in fields(Role)]
_ASSIGNMENT = [f.name for f in fields(RoleAssignment)]


def role_record(row: RoleRow) -> Role:
    return Role(**{name: getattr(row, name) for name in _ROLE})


def assignment_record(row: RoleAssignmentRow) -> RoleAssignment:
    values = {name: getattr(row, name) for name in _ASSIGNMENT}
    values["department_id"] = values["department_id"] or ""  # NULL in the table: everywhere
    return RoleAssignment(**values)


def scoped_to(department_id: str) -> Any:
    """SQL condition: assignments held in ``department_id`` ("" for everywhere)."""
    if department_id == "":
        return RoleAssignmentRow.department_id.is_(None)
    return RoleAssignmentRow.department_id == department_id


def department_present() -> Any:
    """SQL condition, for a query outer-joined to the assignment's department: the assignment
    is held everywhere or in a department that exists. One whose department is missing grants
    nothing anywhere (the foreign key prevents it; this keeps a missing one from widening)."""
    return or_(RoleAssignmentRow.department_id.is_(None), DepartmentRow.path.is_not(None))


async def create_role(
    session: AsyncSession, role_id: str, client_id: str, name: str, description: str, now: float
) -> Role:
    taken = await session.scalar(
        select(RoleRow.id).where(RoleRow.client_id == client_id, RoleRow.name == name)
    )
    if taken is not None:
        raise Conflict(f"role {name!r} exists already")
    row = RoleRow(
        id=role_id,
        client_id=client_id,
        name=name,
        description=description,
        version=1,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    await session.flush()
    return role_record(row)


async def role_by_name(session: AsyncSession, client_id: str, name: str) -> Role | None:
    row = await session.scalar(
        select(RoleRow).where(RoleRow.client_id == client_id, RoleRow.name == name)
    )
    return None if row is None else role_record(row)


async def role_names(session: AsyncSession, client_ids: Sequence[str]) -> set[str]:
    """The names of the roles the given owners (client ids, "" for global) define."""
    rows = await session.scalars(select(RoleRow.name).where(RoleRow.client_id.in_(client_ids)))
    return set(rows)


async def list_roles(
    session: AsyncSession, client_ids: list[str] | None, offset: int, limit: int
) -> tuple[list[Role], int]:
    """Roles of the given owners ("" is the global roles); None: every role."""
    query = select(RoleRow)
    if client_ids is not None:
        query = query.where(RoleRow.client_id.in_(client_ids))
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(
        query.order_by(RoleRow.client_id, RoleRow.name).offset(offset).limit(limit)
    )
    return [role_record(row) for row in rows], int(total or 0)


async def assign(
    session: AsyncSession,
    assignment_id: str,
    role_id: str,
    account_id: str,
    department_id: str,
    granted_by: str,
    now: float,
    expires_at: float | None,
) -> RoleAssignment:
    """Raises NotFound when the role or the department (``department_id``; "" for everywhere)
    does not exist when the row is written: the database checks it, so a department deleted
    meanwhile cannot leave an assignment behind."""
    if await session.get(RoleRow, role_id) is None:
        raise NotFound(f"role {role_id!r}")
    taken = await session.scalar(
        select(RoleAssignmentRow.id).where(
            RoleAssignmentRow.role_id == role_id,
            RoleAssignmentRow.account_id == account_id,
            scoped_to(department_id),
        )
    )
    if taken is not None:
        raise Conflict("the account holds this role in this department already")
    row = RoleAssignmentRow(
        id=assignment_id,
        role_id=role_id,
        account_id=account_id,
        department_id=department_id or None,
        granted_by=granted_by,
        created_at=now,
        expires_at=expires_at,
    )
    session.add(row)
    try:
        await session.flush()
    except IntegrityError as error:
        if foreign_key_violated(error):
            raise NotFound(f"department {department_id!r}") from error
        raise Conflict("the account holds this role in this department already") from error
    return assignment_record(row)


def foreign_key_violated(error: IntegrityError) -> bool:
    """Whether a row named a missing row (or a deletion left rows naming it), not a clash."""
    return "foreign key" in str(error.orig).lower()


async def list_assignments(
    session: AsyncSession,
    offset: int,
    limit: int,
    account_id: str | None = None,
    role_id: str | None = None,
    under: str | None = None,
) -> tuple[list[RoleAssignment], int]:
    """Assignments, optionally of one account or role, or scoped inside the subtree ``under``."""
    query = select(RoleAssignmentRow)
    if account_id is not None:
        query = query.where(RoleAssignmentRow.account_id == account_id)
    if role_id is not None:
        query = query.where(RoleAssignmentRow.role_id == role_id)
    if under is not None:
        inside = select(DepartmentRow.id).where(at_or_below(DepartmentRow.path, under))
        query = query.where(RoleAssignmentRow.department_id.in_(inside))
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(
        query.order_by(RoleAssignmentRow.created_at, RoleAssignmentRow.id)
        .offset(offset)
        .limit(limit)
    )
    return [assignment_record(row) for row in rows], int(total or 0)


async def held_roles(
    session: AsyncSession, account_id: str, owners: list[str], now: float
) -> list[tuple[Role, str]]:
    """The unexpired roles the account holds among those of ``owners`` (client ids, "" for
    global), each with the path of the subtree it holds it in ("" for everywhere)."""
    rows = await session.execute(
        select(RoleRow, RoleAssignmentRow.department_id, DepartmentRow.path)
        .join(RoleAssignmentRow, RoleAssignmentRow.role_id == RoleRow.id)
        .outerjoin(DepartmentRow, DepartmentRow.id == RoleAssignmentRow.department_id)
        .where(
            RoleAssignmentRow.account_id == account_id,
            RoleRow.client_id.in_(owners),
            or_(RoleAssignmentRow.expires_at.is_(None), RoleAssignmentRow.expires_at > now),
            department_present(),
        )
    )
    held = []
    for role, department_id, path in rows:
        if department_id is None:
            held.append((role_record(role), ""))
        elif path:  # a missing department grants nothing, never everywhere
            held.append((role_record(role), path))
    return held
