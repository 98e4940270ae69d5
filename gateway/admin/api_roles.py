"""Admin API: roles and their assignments to people."""

from __future__ import annotations

from gateway.admin import roles
from gateway.admin.auth import READ, WRITE
from gateway.admin.etags import etag_of
from gateway.admin.http import Call, Reply, endpoint
from gateway.admin.models import when
from gateway.admin.models_org import (
    AssignmentCreate,
    AssignmentOut,
    AssignmentPage,
    AssignmentQuery,
    RoleCreate,
    RoleOut,
    RolePage,
    RolePatch,
    RoleQuery,
)
from store.records import Role, RoleAssignment


def role_out(r: Role) -> RoleOut:
    return RoleOut(
        id=r.id,
        client_id=r.client_id or None,
        name=r.name,
        description=r.description,
        version=r.version,
        created_at=when(r.created_at),  # type: ignore[arg-type]
        updated_at=when(r.updated_at),  # type: ignore[arg-type]
    )


def assignment_out(a: RoleAssignment) -> AssignmentOut:
    return AssignmentOut(
        id=a.id,
        role_id=a.role_id,
        account_id=a.account_id,
        department_id=a.department_id or None,
        granted_by=a.granted_by,
        created_at=when(a.created_at),  # type: ignore[arg-type]
        expires_at=when(a.expires_at),
    )


# -- roles ----------------------------------------------------------------------------------------


@endpoint(
    "GET",
    "/roles",
    scope=READ,
    tag="roles",
    summary="List roles",
    out=RolePage,
    query=RoleQuery,
)
async def list_roles(call: Call) -> Reply:
    """Global roles, and the roles of the apps inside your subtrees."""
    q: RoleQuery = call.query
    items, total = await roles.list_roles(
        call.services,
        call.reach,
        q.offset,
        q.limit,
        client_id=q.client_id,
        scope=q.scope,
        name=q.name,
    )
    return Reply(
        RolePage(items=[role_out(r) for r in items], total=total, offset=q.offset, limit=q.limit)
    )


@endpoint(
    "POST",
    "/roles",
    scope=WRITE,
    tag="roles",
    summary="Define a role",
    out=RoleOut,
    status=201,
    body=RoleCreate,
    etag=True,
)
async def create_role(call: Call) -> Reply:
    """With `client_id` an app's own role; without, a global role (city-wide admins only)."""
    b: RoleCreate = call.body
    role = await roles.create_role(
        call.services, call.actor, call.reach, b.name, b.description, b.client_id
    )
    return Reply(role_out(role), status=201, etag=etag_of(role))


@endpoint(
    "GET",
    "/roles/{role_id}",
    scope=READ,
    tag="roles",
    summary="Get a role",
    out=RoleOut,
    etag=True,
)
async def get_role(call: Call) -> Reply:
    role = await roles.get_role(call.services, call.reach, call.params["role_id"])
    return Reply(role_out(role), etag=etag_of(role))


@endpoint(
    "PATCH",
    "/roles/{role_id}",
    scope=WRITE,
    tag="roles",
    summary="Rename or describe a role",
    out=RoleOut,
    body=RolePatch,
    etag=True,
    if_match=True,
)
async def patch_role(call: Call) -> Reply:
    values = {n: getattr(call.body, n) for n in call.fields if getattr(call.body, n) is not None}
    role = await roles.update_role(
        call.services, call.actor, call.reach, call.params["role_id"], values, call.pre
    )
    return Reply(role_out(role), etag=etag_of(role))


@endpoint(
    "DELETE",
    "/roles/{role_id}",
    scope=WRITE,
    tag="roles",
    summary="Delete a role (and every assignment of it)",
    status=204,
    if_match=True,
)
async def delete_role(call: Call) -> Reply:
    await roles.delete_role(call.services, call.actor, call.reach, call.params["role_id"], call.pre)
    return Reply(status=204)


# -- assignments ----------------------------------------------------------------------------------


@endpoint(
    "GET",
    "/assignments",
    scope=READ,
    tag="assignments",
    summary="List role assignments",
    out=AssignmentPage,
    query=AssignmentQuery,
)
async def list_assignments(call: Call) -> Reply:
    """Assignments scoped inside your subtrees (city-wide: all, also those held everywhere)."""
    q: AssignmentQuery = call.query
    filters = q.model_dump(exclude={"offset", "limit"}, exclude_none=True)
    items, total = await roles.list_assignments(
        call.services, call.reach, q.offset, q.limit, **filters
    )
    return Reply(
        AssignmentPage(
            items=[assignment_out(a) for a in items], total=total, offset=q.offset, limit=q.limit
        )
    )


@endpoint(
    "POST",
    "/assignments",
    scope=WRITE,
    tag="assignments",
    summary="Assign a role",
    out=AssignmentOut,
    status=201,
    body=AssignmentCreate,
    etag=True,
)
async def create_assignment(call: Call) -> Reply:
    """The account holds the role inside the department's subtree (none: everywhere, city-wide
    admins only) until `expires_at`. You hand on admin roles only where you hold them."""
    b: AssignmentCreate = call.body
    assignment = await roles.assign(
        call.services,
        call.actor,
        call.reach,
        b.account_id,
        b.role_id,
        b.department_id,
        b.expires_at.timestamp() if b.expires_at else None,
        held=call.admin.held,
    )
    return Reply(assignment_out(assignment), status=201, etag=etag_of(assignment))


@endpoint(
    "GET",
    "/assignments/{assignment_id}",
    scope=READ,
    tag="assignments",
    summary="Get a role assignment",
    out=AssignmentOut,
    etag=True,
)
async def get_assignment(call: Call) -> Reply:
    assignment = await roles.get_assignment(call.services, call.reach, call.params["assignment_id"])
    return Reply(assignment_out(assignment), etag=etag_of(assignment))


@endpoint(
    "DELETE",
    "/assignments/{assignment_id}",
    scope=WRITE,
    tag="assignments",
    summary="Remove a role assignment",
    status=204,
    if_match=True,
)
async def delete_assignment(call: Call) -> Reply:
    await roles.unassign(
        call.services, call.actor, call.reach, call.params["assignment_id"], call.pre
    )
    return Reply(status=204)
