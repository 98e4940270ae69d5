"""The organisation tree and groups. Functions take the caller's session, so an admin change
and its audit entry commit together or not at all."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

from sqlalchemy import (
    String,
    bindparam,
    func,
    literal,
    null,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from store.database import Database
from store.errors import Conflict, InUse, NotFound, StaleVersion
from store.paths import at_or_below, below
from store.records import Department, Group
from store.roles import department_present, foreign_key_violated
from store.tables import (
    AccountRow,
    ClientRow,
    DepartmentRow,
    GroupMemberRow,
    GroupRow,
    LinkedIdentityRow,
    RoleAssignmentRow,
    RoleRow,
)
from store.versioned import update_versioned

_DEPARTMENT = [f.name for f in fields(Department)]
_PG_TREE_LOCK = 0x59_48_54_02  # beside the migrations' lock (store/migrate.py)
_GROUP = [f.name for f in fields(Group)]


def department_record(row: DepartmentRow) -> Department:
    return Department(**{name: getattr(row, name) for name in _DEPARTMENT})


def group_record(row: GroupRow) -> Group:
    return Group(**{name: getattr(row, name) for name in _GROUP})


def within(path: str) -> Any:
    """SQL condition: a department path at or below ``path``."""
    return at_or_below(DepartmentRow.path, path)


async def lock_tree(session: AsyncSession) -> None:
    """Take the tree's lock for the rest of the transaction, before reading any path: two
    moves (or a move and a new child) each checked against paths the other was changing would
    leave a cycle, or a path that no longer matches its parent."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_TREE_LOCK})
    else:  # SQLite: a write, even of no row, takes the database's one write lock until commit
        await session.execute(
            update(DepartmentRow)
            .where(DepartmentRow.id.is_(None))
            .values(version=DepartmentRow.version)
            .execution_options(synchronize_session=False)
        )


async def get_department(session: AsyncSession, department_id: str) -> Department | None:
    row = await session.get(DepartmentRow, department_id)
    return None if row is None else department_record(row)


async def department_paths(session: AsyncSession, ids: Sequence[str]) -> dict[str, str]:
    if not ids:
        return {}
    rows = await session.execute(
        select(DepartmentRow.id, DepartmentRow.path).where(DepartmentRow.id.in_(set(ids)))
    )
    return {department_id: path for department_id, path in rows}


async def group_departments(session: AsyncSession, ids: Sequence[str]) -> dict[str, str | None]:
    """Group id -> its department id (None: a city-level group), for the groups that exist."""
    if not ids:
        return {}
    rows = await session.execute(
        select(GroupRow.id, GroupRow.department_id).where(GroupRow.id.in_(set(ids)))
    )
    return {group_id: department_id for group_id, department_id in rows}


async def create_department(
    session: AsyncSession, department_id: str, name: str, parent_id: str | None, now: float
) -> Department:
    if await session.get(DepartmentRow, department_id) is not None:
        raise Conflict(f"department id {department_id!r} is taken")
    parent_path = ""
    if parent_id is not None:
        parent = await session.get(DepartmentRow, parent_id)
        if parent is None:
            raise NotFound(f"department {parent_id!r}")
        parent_path = parent.path
    row = DepartmentRow(
        id=department_id,
        parent_id=parent_id,
        name=name,
        path=f"{parent_path}/{department_id}",
        version=1,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    await session.flush()
    return department_record(row)


async def list_departments(
    session: AsyncSession, under: str | None, offset: int, limit: int
) -> tuple[list[Department], int]:
    query = select(DepartmentRow)
    if under is not None:
        query = query.where(within(under))
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(query.order_by(DepartmentRow.path).offset(offset).limit(limit))
    return [department_record(row) for row in rows], int(total or 0)


async def update_department(
    session: AsyncSession,
    department_id: str,
    expected_version: int | None,
    now: float,
    name: str | None = None,
    parent_id: str | None = None,
    move: bool = False,
) -> Department:
    """Rename, and with ``move`` re-parent (``parent_id`` None: a root) the department; a move
    rewrites the paths of its whole subtree in the same transaction."""
    row = await session.get(DepartmentRow, department_id)
    if row is None:
        raise NotFound(f"department {department_id!r}")
    values: dict[str, Any] = {"updated_at": now}
    if name is not None:
        values["name"] = name
    old_path = row.path
    new_path = old_path
    if move and parent_id != row.parent_id:
        parent_path = ""
        if parent_id is not None:
            parent = await session.get(DepartmentRow, parent_id)
            if parent is None:
                raise NotFound(f"department {parent_id!r}")
            if parent.path == old_path or parent.path.startswith(old_path + "/"):
                raise InUse("a department cannot move below itself")
            parent_path = parent.path
        new_path = f"{parent_path}/{department_id}"
        values.update(parent_id=parent_id, path=new_path)
    await update_versioned(session, DepartmentRow, department_id, expected_version, values)
    if new_path != old_path:
        cut = len(old_path) + 1  # SQL substr counts from 1: what follows the old prefix
        await session.execute(
            update(DepartmentRow)
            .where(below(DepartmentRow.path, old_path))
            .values(path=literal(new_path, String) + func.substr(DepartmentRow.path, cut))
            .execution_options(synchronize_session=False)
        )
    row = await session.get(DepartmentRow, department_id, populate_existing=True)
    assert row is not None
    return department_record(row)


async def delete_department(
    session: AsyncSession, department_id: str, expected_version: int | None
) -> Department:
    row = await session.get(DepartmentRow, department_id, with_for_update=True)
    if row is None:
        raise NotFound(f"department {department_id!r}")
    if expected_version is not None and row.version != expected_version:
        raise StaleVersion(f"department {department_id!r} is at version {row.version}")
    for table, column, what in (
        (DepartmentRow, DepartmentRow.parent_id, "departments below it"),
        (AccountRow, AccountRow.department_id, "accounts in it"),
        (ClientRow, ClientRow.department_id, "apps it owns"),
        (GroupRow, GroupRow.department_id, "groups in it"),
        (RoleAssignmentRow, RoleAssignmentRow.department_id, "role assignments scoped to it"),
    ):
        count = await session.scalar(
            select(func.count()).select_from(table).where(column == department_id)
        )
        if count:
            raise InUse(f"the department still has {what}")
    record = department_record(row)
    await session.delete(row)
    try:
        await session.flush()
    except IntegrityError as error:  # something was put in it meanwhile
        if foreign_key_violated(error):
            raise InUse("the department still has role assignments scoped to it") from error
        raise
    return record


async def create_group(
    session: AsyncSession, group_id: str, name: str, department_id: str | None, now: float
) -> Group:
    if await session.get(GroupRow, group_id) is not None:
        raise Conflict(f"group id {group_id!r} is taken")
    row = GroupRow(
        id=group_id,
        name=name,
        department_id=department_id,
        version=1,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    await session.flush()
    return group_record(row)


async def add_member(session: AsyncSession, group_id: str, account_id: str, now: float) -> bool:
    if await session.get(GroupMemberRow, (group_id, account_id)) is not None:
        return False
    session.add(GroupMemberRow(group_id=group_id, account_id=account_id, added_at=now))
    await session.flush()
    return True


async def remove_member(session: AsyncSession, group_id: str, account_id: str) -> bool:
    row = await session.get(GroupMemberRow, (group_id, account_id))
    if row is None:
        return False
    await session.delete(row)
    await session.flush()
    return True


@dataclass(frozen=True)
class AccountFacts:
    """What the organisation says about one account, for one app."""

    roles: list[tuple[str, str, str]]  # (client id or "" for global, role name, subtree path)
    groups: list[str]
    paths: dict[str, str]  # department id -> path, for the ids asked about
    linked: list[str]  # provider ids of the account's linked department logins
    app_department: str | None = None  # the path of the app's own department
    expiring: tuple[tuple[float, tuple[str, str, str]], ...] = ()  # (until, role) not in roles

    def at(self, now: float) -> AccountFacts:
        """The facts at ``now``: the roles of assignments that expire later count as held."""
        if not self.expiring:
            return self
        held = [role for until, role in self.expiring if until > now]
        return replace(self, roles=[*self.roles, *held], expiring=())


def _facts_statement() -> Any:
    """Built once, run with parameters: building a four-part UNION costs more than running it."""
    text_ = String()
    account_id = bindparam("account_id")
    return union_all(
        select(
            literal("role", text_),
            RoleRow.client_id,
            RoleRow.name,
            func.coalesce(DepartmentRow.path, literal("", text_)),
            RoleAssignmentRow.expires_at,
        )
        .join(RoleAssignmentRow, RoleAssignmentRow.role_id == RoleRow.id)
        .outerjoin(DepartmentRow, DepartmentRow.id == RoleAssignmentRow.department_id)
        .where(
            RoleAssignmentRow.account_id == account_id,
            department_present(),
            RoleRow.client_id.in_([bindparam("client_id"), ""]),
        ),
        select(
            literal("group", text_),
            GroupMemberRow.group_id,
            literal("", text_),
            literal("", text_),
            null(),
        ).where(GroupMemberRow.account_id == account_id),
        select(
            literal("link", text_),
            LinkedIdentityRow.provider_id,
            literal("", text_),
            literal("", text_),
            null(),
        ).where(LinkedIdentityRow.account_id == account_id),
        select(
            literal("path", text_), DepartmentRow.id, DepartmentRow.path, literal("", text_), null()
        ).where(DepartmentRow.id.in_(bindparam("department_ids", expanding=True))),
        select(
            literal("app", text_),
            ClientRow.client_id,
            DepartmentRow.path,
            literal("", text_),
            null(),
        )
        .join(DepartmentRow, DepartmentRow.id == ClientRow.department_id)
        .where(ClientRow.client_id == bindparam("client_id")),
    )


_FACTS = _facts_statement()


async def read_account_facts(
    database: Database, account_id: str, client_id: str, department_ids: Sequence[str]
) -> AccountFacts:
    """Roles held for the app (and global ones, those that expire apart), groups, the named
    departments' paths and the linked logins, in one round trip: this runs at every
    authorization and refresh that is not answered from memory."""
    parameters = {
        "account_id": account_id,
        "client_id": client_id,
        "department_ids": sorted(set(department_ids)),
    }
    rows = await database.read(_FACTS, parameters)
    facts = AccountFacts(roles=[], groups=[], paths={}, linked=[])
    expiring: list[tuple[float, tuple[str, str, str]]] = []
    for kind, first, second, third, until in rows:
        if kind == "role" and until is not None:
            expiring.append((until, (first, second, third)))
        elif kind == "role":
            facts.roles.append((first, second, third))
        elif kind == "group":
            facts.groups.append(first)
        elif kind == "link":
            facts.linked.append(first)
        elif kind == "app":
            facts = replace(facts, app_department=second)
        else:
            facts.paths[first] = second
    facts.groups.sort()
    return replace(facts, expiring=tuple(expiring)) if expiring else facts


async def account_facts(
    database: Database,
    account_id: str,
    client_id: str,
    department_ids: Sequence[str],
    now: float,
) -> AccountFacts:
    """The account's facts for the app at ``now``."""
    return (await read_account_facts(database, account_id, client_id, department_ids)).at(now)
