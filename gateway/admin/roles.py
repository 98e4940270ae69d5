"""Administering roles (global, or an app's own) and who holds them where (shared by the REST
API and the command line). Global roles are the city's: any administrator may read and assign
them inside its subtrees, only a city-wide one defines them."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.admin.changes import Actor, change
from gateway.admin.etags import NONE, Precondition, etag_of
from gateway.admin.org import account_to_change, path_of, target_department, visible_account
from gateway.admin.reach import Reach, enforce
from gateway.identity.access import ADMIN_SCOPES
from gateway.server.responses import Clash, Forbidden, Invalid, Missing
from gateway.server.services import Services
from policies.admin_reach import decide_hand_on
from store import admin as admin_store
from store import errors as store_errors
from store import roles as role_store
from store.clients import get_client
from store.records import Role, RoleAssignment

ADMIN_ROLE_DESCRIPTIONS = {
    "admin:read": "Reads the admin API inside the subtree it is held in.",
    "admin:write": "Changes through the admin API inside the subtree it is held in.",
}


async def _client_path(session: AsyncSession, client_id: str) -> tuple[bool, str | None]:
    client = await get_client(session, client_id)
    if client is None:
        return False, None
    return True, await path_of(session, client.department_id)


async def visible_role(
    session: AsyncSession, reach: Reach, role_id: str, *, change: bool = False
) -> Role:
    """A global role (anyone may read it; only city-wide admins change it) or a role of an
    app inside the reach."""
    role = await admin_store.get_role(session, role_id)
    if role is None:
        raise Missing("No such role.")
    if role.client_id == "":
        if change:
            reach.require_city_wide("global roles")
        return role
    _, path = await _client_path(session, role.client_id)
    reach.require(path, "role")
    return role


async def list_roles(
    services: Services,
    reach: Reach,
    offset: int,
    limit: int,
    *,
    client_id: str | None = None,
    scope: str = "all",
    name: str | None = None,
) -> tuple[list[Role], int]:
    async with services.database.sessions() as session:
        owners: list[str] | None = None  # None: every owner
        if not reach.city_wide:
            owners = ["", *await admin_store.client_ids_within(session, reach.paths)]
        if scope == "global":
            owners = [""] if owners is None or "" in owners else []
        elif scope == "client":
            if owners is None:
                owners = await admin_store.client_ids_within(session, [""])
            owners = [owner for owner in owners if owner]
        if client_id is not None:
            owners = [client_id] if owners is None or client_id in owners else []
        return await admin_store.list_roles(session, owners, offset, limit, name)


async def get_role(services: Services, reach: Reach, role_id: str) -> Role:
    async with services.database.sessions() as session:
        return await visible_role(session, reach, role_id)


async def create_role(
    services: Services,
    actor: Actor,
    reach: Reach,
    name: str,
    description: str = "",
    client_id: str | None = None,
) -> Role:
    role_id = str(uuid.uuid4())
    async with change(services, actor, "admin.role.created", role_id) as c:
        if client_id is None:
            reach.require_city_wide("global roles")
        else:
            found, path = await _client_path(c.session, client_id)
            if not found or not reach.covers(path):
                raise Invalid.field(
                    ["body", "client_id"], "no such client you administer", denied=True
                )
        c.after = await role_store.create_role(
            c.session, role_id, client_id or "", name, description, services.clock.now()
        )
    return c.after


async def update_role(
    services: Services,
    actor: Actor,
    reach: Reach,
    role_id: str,
    values: dict[str, Any],
    pre: Precondition = NONE,
) -> Role:
    async with change(services, actor, "admin.role.updated", role_id) as c:
        before = await visible_role(c.session, reach, role_id, change=True)
        pre.check(etag_of(before))
        renamed = values.get("name", before.name) != before.name
        if renamed and await role_store.role_by_name(c.session, before.client_id, values["name"]):
            raise Clash(f"role {values['name']!r} exists already")
        c.before = before
        c.after = await admin_store.update_role(
            c.session,
            role_id,
            before.version if pre.given else None,
            {**values, "updated_at": services.clock.now()},
        )
    return c.after


async def delete_role(
    services: Services, actor: Actor, reach: Reach, role_id: str, pre: Precondition = NONE
) -> None:
    async with change(services, actor, "admin.role.deleted", role_id) as c:
        c.before = await visible_role(c.session, reach, role_id, change=True)
        pre.check(etag_of(c.before))
        await admin_store.delete_role(c.session, role_id, c.before.version if pre.given else None)


# -- assignments ----------------------------------------------------------------------------------


async def _visible_assignment(
    session: AsyncSession, reach: Reach, assignment_id: str
) -> RoleAssignment:
    assignment = await admin_store.get_assignment(session, assignment_id)
    if assignment is None:
        raise Missing("No such assignment.")
    if assignment.department_id == "":
        if not reach.city_wide:  # held everywhere: the city's business
            raise Missing("No such assignment.")
    else:
        reach.require(await path_of(session, assignment.department_id), "assignment")
    try:  # its holder too: an account out of reach is no business of this admin's
        await visible_account(session, reach, assignment.account_id)
    except Missing:
        raise Missing("No such assignment.") from None
    return assignment


async def list_assignments(
    services: Services, reach: Reach, offset: int, limit: int, **filters: str | None
) -> tuple[list[RoleAssignment], int]:
    """Assignments scoped inside the reach and held by accounts inside it (as each one is
    read: ``_visible_assignment``)."""
    async with services.database.sessions() as session:
        return await admin_store.list_assignments(
            session, reach.limit, offset, limit, holders_in=reach.limit, **filters
        )


async def get_assignment(services: Services, reach: Reach, assignment_id: str) -> RoleAssignment:
    async with services.database.sessions() as session:
        return await _visible_assignment(session, reach, assignment_id)


async def assign(
    services: Services,
    actor: Actor,
    reach: Reach,
    account_id: str,
    role_id: str,
    department_id: str | None = None,
    expires_at: float | None = None,
    held: dict[str, list[str]] | None = None,
) -> RoleAssignment:
    """Let the account hold the role inside ``department_id``'s subtree (None: everywhere)
    until ``expires_at``. ``held``: the granting admin's own admin scopes, for granting those
    (None: the command line, which may grant anything)."""
    now = services.clock.now()
    if expires_at is not None and expires_at <= now:
        raise Invalid.field(["body", "expires_at"], "must be in the future")
    assignment_id = str(uuid.uuid4())
    async with change(services, actor, "admin.assignment.created", account_id) as c:
        try:
            role = await visible_role(c.session, reach, role_id)
        except (Missing, Forbidden):
            raise Invalid.field(
                ["body", "role_id"], "no such role you administer", denied=True
            ) from None
        await account_to_change(c.session, reach, account_id, now, field="account_id")
        path = await target_department(c.session, reach, department_id, "department_id")
        admin_role = role.client_id == "" and role.name in ADMIN_SCOPES
        enforce(decide_hand_on(role.name, admin_role, path, held))
        try:
            c.after = await role_store.assign(
                c.session,
                assignment_id,
                role.id,
                account_id,
                department_id or "",
                actor.id,
                now,
                expires_at,
            )
        except store_errors.NotFound as error:  # the department was deleted meanwhile
            if not str(error).startswith("department"):
                raise
            raise Invalid.field(
                ["body", "department_id"], f"no department {department_id!r} you administer"
            ) from None
        c.extra["role"] = role.name
        c.extra["role_client_id"] = role.client_id or None
    return c.after


async def unassign(
    services: Services, actor: Actor, reach: Reach, assignment_id: str, pre: Precondition = NONE
) -> None:
    async with change(services, actor, "admin.assignment.deleted", None) as c:
        c.before = await _visible_assignment(c.session, reach, assignment_id)
        pre.check(etag_of(c.before))
        await account_to_change(c.session, reach, c.before.account_id, services.clock.now())
        c.target = c.before.account_id
        await admin_store.delete_assignment(c.session, assignment_id)


async def grant_admin(
    services: Services,
    actor: Actor,
    account_id: str,
    scopes: list[str],
    department_id: str | None = None,
    expires_at: float | None = None,
) -> list[RoleAssignment]:
    """Bootstrap: make the account an administrator (the global ``admin:*`` roles are created
    when missing). Held already: kept as it is."""
    granted = []
    for scope in scopes:
        if scope not in ADMIN_SCOPES:
            raise Invalid.field(["scope"], f"use {' or '.join(ADMIN_SCOPES)}")
        async with services.database.sessions() as session:
            role = await role_store.role_by_name(session, "", scope)
            existing, _ = await admin_store.list_assignments(
                session,
                None,
                0,
                1,
                account_id=account_id,
                role_id=role.id if role else "-",
                department_id=department_id or "",
            )
        if role is None:
            try:
                role = await create_role(
                    services, actor, Reach.everywhere(), scope, ADMIN_ROLE_DESCRIPTIONS[scope]
                )
            except Clash:  # created meanwhile
                async with services.database.sessions() as session:
                    role = await role_store.role_by_name(session, "", scope)
                assert role is not None
        if existing:
            granted.append(existing[0])
            continue
        granted.append(
            await assign(
                services,
                actor,
                Reach.everywhere(),
                account_id,
                role.id,
                department_id,
                expires_at,
            )
        )
    return granted
