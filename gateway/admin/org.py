"""Administering the organisation tree and groups (shared by the REST API and the command
line). A department administrator works inside its subtrees only."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.admin.changes import Actor, change
from gateway.admin.etags import NONE, Precondition, etag_of
from gateway.admin.policy_names import refuse_if_named, refuse_unless_city_wide
from gateway.admin.reach import Reach
from gateway.identity.access import ADMIN_SCOPES
from gateway.server.responses import Forbidden, Invalid, Missing
from gateway.server.services import Services
from store import admin as admin_store
from store import organisation
from store import roles as role_store
from store.accounts import get_account
from store.records import Account, Department, Group


async def path_of(session: AsyncSession, department_id: str | None) -> str | None:
    if department_id is None:
        return None
    department = await organisation.get_department(session, department_id)
    return None if department is None else department.path


async def target_department(
    session: AsyncSession, reach: Reach, department_id: str | None, field: str
) -> str | None:
    """A department named in a request body: it must exist inside the reach (an unknown one
    and one elsewhere get the same answer). None (no department) needs a city-wide admin."""
    if department_id is None:
        if not reach.city_wide:
            raise Invalid.field(["body", field], "name a department you administer", denied=True)
        return None
    path = await path_of(session, department_id)
    if path is None or not reach.covers(path):
        raise Invalid.field(
            ["body", field], f"no department {department_id!r} you administer", denied=True
        )
    return path


async def visible_account(
    session: AsyncSession, reach: Reach, account_id: str, *, field: str | None = None
) -> Account:
    """An account inside the reach (by its department); otherwise 404 (or 422 when the
    account was named in a body ``field``)."""
    account = await get_account(session, account_id)
    path = await path_of(session, account.department_id) if account else None
    if field is None:
        if account is None:
            raise Missing("No such account.")
        reach.require(path, "account")
    elif account is None or not reach.covers(path):
        raise Invalid.field(
            ["body", field], f"no account {account_id!r} you administer", denied=True
        )
    return account


async def account_to_change(
    session: AsyncSession, reach: Reach, account_id: str, now: float, *, field: str | None = None
) -> Account:
    """The one check before any admin write on an account: it is inside the reach
    (``visible_account``) and holds no more administration than the admin itself (403)."""
    account = await visible_account(session, reach, account_id, field=field)
    if not reach.city_wide:
        held: dict[str, list[str]] = {}
        for role, path in await role_store.held_roles(session, account_id, [""], now):
            if role.name in ADMIN_SCOPES:
                held.setdefault(role.name, []).append(path)
        reach.require_power_over(held)
    return account


# -- departments ----------------------------------------------------------------------------------


async def list_departments(
    services: Services,
    reach: Reach,
    offset: int,
    limit: int,
    under: str | None = None,
    **filters: str | None,
) -> tuple[list[Department], int]:
    """``filters``: ``parent_id`` (its children only), ``name`` (names containing it)."""
    async with services.database.sessions() as session:
        return await admin_store.list_departments(
            session, reach.limit, offset, limit, under, **filters
        )


async def get_department(services: Services, reach: Reach, department_id: str) -> Department:
    async with services.database.sessions() as session:
        department = await organisation.get_department(session, department_id)
    if department is None:
        raise Missing("No such department.")
    reach.require(department.path, "department")
    return department


async def create_department(
    services: Services,
    actor: Actor,
    reach: Reach,
    department_id: str,
    name: str,
    parent_id: str | None,
) -> Department:
    async with change(services, actor, "admin.department.created", department_id) as c:
        await organisation.lock_tree(c.session)
        if parent_id is None and not reach.city_wide:
            raise Forbidden("Only city-wide administrators create top-level departments.")
        await target_department(c.session, reach, parent_id, "parent_id")
        await refuse_unless_city_wide(c.session, reach, "department", department_id)
        c.after = await organisation.create_department(
            c.session, department_id, name.strip(), parent_id, services.clock.now()
        )
    return c.after


async def update_department(
    services: Services,
    actor: Actor,
    reach: Reach,
    department_id: str,
    *,
    name: str | None = None,
    move: bool = False,
    parent_id: str | None = None,
    pre: Precondition = NONE,
) -> Department:
    """Rename, and with ``move`` re-parent (the subtree moves with it)."""
    event = "admin.department.moved" if move else "admin.department.updated"
    async with change(services, actor, event, department_id) as c:
        if move:
            await organisation.lock_tree(c.session)
        before = await organisation.get_department(c.session, department_id)
        if before is None:
            raise Missing("No such department.")
        reach.require(before.path, "department")
        pre.check(etag_of(before))
        if move:
            if parent_id is None and not reach.city_wide:
                raise Forbidden("Only city-wide administrators make a department top-level.")
            await target_department(c.session, reach, parent_id, "parent_id")
        c.before = before
        c.after = await organisation.update_department(
            c.session,
            department_id,
            before.version if pre.given else None,
            services.clock.now(),
            name=name.strip() if name else None,
            parent_id=parent_id,
            move=move,
        )
    return c.after


async def delete_department(
    services: Services, actor: Actor, reach: Reach, department_id: str, pre: Precondition = NONE
) -> None:
    async with change(services, actor, "admin.department.deleted", department_id) as c:
        await organisation.lock_tree(c.session)
        before = await organisation.get_department(c.session, department_id)
        if before is None:
            raise Missing("No such department.")
        reach.require(before.path, "department")
        pre.check(etag_of(before))
        await refuse_if_named(c.session, "department", department_id)
        c.before = await organisation.delete_department(
            c.session, department_id, before.version if pre.given else None
        )


# -- groups ---------------------------------------------------------------------------------------


async def _visible_group(session: AsyncSession, reach: Reach, group_id: str) -> Group:
    group = await admin_store.get_group(session, group_id)
    if group is None:
        raise Missing("No such group.")
    reach.require(await path_of(session, group.department_id), "group")
    return group


async def list_groups(
    services: Services, reach: Reach, offset: int, limit: int, department_id: str | None = None
) -> tuple[list[Group], int]:
    async with services.database.sessions() as session:
        return await admin_store.list_groups(session, reach.limit, offset, limit, department_id)


async def get_group(services: Services, reach: Reach, group_id: str) -> Group:
    async with services.database.sessions() as session:
        return await _visible_group(session, reach, group_id)


async def create_group(
    services: Services,
    actor: Actor,
    reach: Reach,
    group_id: str,
    name: str,
    department_id: str | None,
) -> Group:
    async with change(services, actor, "admin.group.created", group_id) as c:
        await organisation.lock_tree(c.session)
        await target_department(c.session, reach, department_id, "department_id")
        await refuse_unless_city_wide(c.session, reach, "group", group_id)
        c.after = await organisation.create_group(
            c.session, group_id, name.strip(), department_id, services.clock.now()
        )
    return c.after


async def update_group(
    services: Services,
    actor: Actor,
    reach: Reach,
    group_id: str,
    values: dict[str, Any],
    pre: Precondition = NONE,
) -> Group:
    async with change(services, actor, "admin.group.updated", group_id) as c:
        if "department_id" in values:  # a move: as a creation, against a tree that holds still
            await organisation.lock_tree(c.session)
        before = await _visible_group(c.session, reach, group_id)
        pre.check(etag_of(before))
        if "department_id" in values:
            await target_department(c.session, reach, values["department_id"], "department_id")
        if "name" in values:
            values["name"] = values["name"].strip()
        c.before = before
        c.after = await admin_store.update_group(
            c.session,
            group_id,
            before.version if pre.given else None,
            {**values, "updated_at": services.clock.now()},
        )
    return c.after


async def delete_group(
    services: Services, actor: Actor, reach: Reach, group_id: str, pre: Precondition = NONE
) -> None:
    async with change(services, actor, "admin.group.deleted", group_id) as c:
        await organisation.lock_tree(c.session)
        c.before = await _visible_group(c.session, reach, group_id)
        pre.check(etag_of(c.before))
        await refuse_if_named(c.session, "group", group_id)
        await admin_store.delete_group(c.session, group_id, c.before.version if pre.given else None)


async def members(
    services: Services, reach: Reach, group_id: str, offset: int, limit: int
) -> tuple[list[tuple[str, float]], int]:
    async with services.database.sessions() as session:
        await _visible_group(session, reach, group_id)
        return await admin_store.members_of(session, group_id, offset, limit)


async def set_member(
    services: Services, actor: Actor, reach: Reach, group_id: str, account_id: str, member: bool
) -> bool:
    """Add (``member``) or remove the account; whether anything changed."""
    event = "admin.group.member_added" if member else "admin.group.member_removed"
    async with change(services, actor, event, group_id) as c:
        await _visible_group(c.session, reach, group_id)
        await account_to_change(c.session, reach, account_id, services.clock.now())
        if member:
            changed = await organisation.add_member(
                c.session, group_id, account_id, services.clock.now()
            )
        else:
            changed = await organisation.remove_member(c.session, group_id, account_id)
        c.extra["account_id"] = account_id
        c.extra["changed"] = changed
    return changed
