"""Admin API: the department tree, groups and their members, roles and assignments."""

from __future__ import annotations

from gateway.admin import org, roles
from gateway.admin.auth import READ, WRITE
from gateway.admin.etags import etag_of
from gateway.admin.http import Call, Reply, endpoint
from gateway.admin.models import (
    AssignmentCreate,
    AssignmentOut,
    AssignmentPage,
    AssignmentQuery,
    DepartmentCreate,
    DepartmentOut,
    DepartmentPage,
    DepartmentPatch,
    DepartmentQuery,
    GroupCreate,
    GroupOut,
    GroupPage,
    GroupPatch,
    GroupQuery,
    MemberOut,
    MemberPage,
    PageQuery,
    RoleCreate,
    RoleOut,
    RolePage,
    RolePatch,
    RoleQuery,
    when,
)
from store.records import Department, Group, Role, RoleAssignment


def department_out(d: Department) -> DepartmentOut:
    return DepartmentOut(
        id=d.id,
        name=d.name,
        parent_id=d.parent_id,
        path=d.path,
        version=d.version,
        created_at=when(d.created_at),  # type: ignore[arg-type]
        updated_at=when(d.updated_at),  # type: ignore[arg-type]
    )


def group_out(g: Group) -> GroupOut:
    return GroupOut(
        id=g.id,
        name=g.name,
        department_id=g.department_id,
        version=g.version,
        created_at=when(g.created_at),  # type: ignore[arg-type]
        updated_at=when(g.updated_at),  # type: ignore[arg-type]
    )


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


# -- departments ----------------------------------------------------------------------------------


@endpoint(
    "GET",
    "/departments",
    scope=READ,
    tag="departments",
    summary="List departments",
    out=DepartmentPage,
    query=DepartmentQuery,
)
async def list_departments(call: Call) -> Reply:
    """Departments inside your subtrees, in tree order (by path)."""
    q: DepartmentQuery = call.query
    items, total = await org.list_departments(call.services, call.reach, q.offset, q.limit, q.under)
    return Reply(
        DepartmentPage(
            items=[department_out(d) for d in items], total=total, offset=q.offset, limit=q.limit
        )
    )


@endpoint(
    "POST",
    "/departments",
    scope=WRITE,
    tag="departments",
    summary="Add a department",
    out=DepartmentOut,
    status=201,
    body=DepartmentCreate,
    etag=True,
)
async def create_department(call: Call) -> Reply:
    b: DepartmentCreate = call.body
    department = await org.create_department(
        call.services, call.actor, call.reach, b.id, b.name, b.parent_id
    )
    return Reply(department_out(department), status=201, etag=etag_of(department))


@endpoint(
    "GET",
    "/departments/{department_id}",
    scope=READ,
    tag="departments",
    summary="Get a department",
    out=DepartmentOut,
    etag=True,
)
async def get_department(call: Call) -> Reply:
    department = await org.get_department(call.services, call.reach, call.params["department_id"])
    return Reply(department_out(department), etag=etag_of(department))


@endpoint(
    "PATCH",
    "/departments/{department_id}",
    scope=WRITE,
    tag="departments",
    summary="Rename or move a department",
    out=DepartmentOut,
    body=DepartmentPatch,
    etag=True,
    if_match=True,
)
async def patch_department(call: Call) -> Reply:
    """With `parent_id` the department moves, and its whole subtree with it."""
    b: DepartmentPatch = call.body
    department = await org.update_department(
        call.services,
        call.actor,
        call.reach,
        call.params["department_id"],
        name=b.name,
        move="parent_id" in call.fields,
        parent_id=b.parent_id,
        pre=call.pre,
    )
    return Reply(department_out(department), etag=etag_of(department))


@endpoint(
    "DELETE",
    "/departments/{department_id}",
    scope=WRITE,
    tag="departments",
    summary="Remove an empty department",
    status=204,
    if_match=True,
)
async def delete_department(call: Call) -> Reply:
    """A department with departments, accounts, apps, groups or assignments in it stays (409)."""
    await org.delete_department(
        call.services, call.actor, call.reach, call.params["department_id"], call.pre
    )
    return Reply(status=204)


# -- groups ---------------------------------------------------------------------------------------


@endpoint(
    "GET",
    "/groups",
    scope=READ,
    tag="groups",
    summary="List groups",
    out=GroupPage,
    query=GroupQuery,
)
async def list_groups(call: Call) -> Reply:
    q: GroupQuery = call.query
    items, total = await org.list_groups(
        call.services, call.reach, q.offset, q.limit, q.department_id
    )
    return Reply(
        GroupPage(items=[group_out(g) for g in items], total=total, offset=q.offset, limit=q.limit)
    )


@endpoint(
    "POST",
    "/groups",
    scope=WRITE,
    tag="groups",
    summary="Add a group",
    out=GroupOut,
    status=201,
    body=GroupCreate,
    etag=True,
)
async def create_group(call: Call) -> Reply:
    b: GroupCreate = call.body
    group = await org.create_group(
        call.services, call.actor, call.reach, b.id, b.name, b.department_id
    )
    return Reply(group_out(group), status=201, etag=etag_of(group))


@endpoint(
    "GET",
    "/groups/{group_id}",
    scope=READ,
    tag="groups",
    summary="Get a group",
    out=GroupOut,
    etag=True,
)
async def get_group(call: Call) -> Reply:
    group = await org.get_group(call.services, call.reach, call.params["group_id"])
    return Reply(group_out(group), etag=etag_of(group))


@endpoint(
    "PATCH",
    "/groups/{group_id}",
    scope=WRITE,
    tag="groups",
    summary="Change a group",
    out=GroupOut,
    body=GroupPatch,
    etag=True,
    if_match=True,
)
async def patch_group(call: Call) -> Reply:
    values = {name: getattr(call.body, name) for name in call.fields}
    if "name" in values and values["name"] is None:
        del values["name"]
    group = await org.update_group(
        call.services, call.actor, call.reach, call.params["group_id"], values, call.pre
    )
    return Reply(group_out(group), etag=etag_of(group))


@endpoint(
    "DELETE",
    "/groups/{group_id}",
    scope=WRITE,
    tag="groups",
    summary="Remove a group",
    status=204,
    if_match=True,
)
async def delete_group(call: Call) -> Reply:
    await org.delete_group(call.services, call.actor, call.reach, call.params["group_id"], call.pre)
    return Reply(status=204)


@endpoint(
    "GET",
    "/groups/{group_id}/members",
    scope=READ,
    tag="groups",
    summary="List members",
    out=MemberPage,
    query=PageQuery,
)
async def list_members(call: Call) -> Reply:
    q: PageQuery = call.query
    found, total = await org.members(
        call.services, call.reach, call.params["group_id"], q.offset, q.limit
    )
    items = [MemberOut(account_id=a, added_at=when(t)) for a, t in found]  # type: ignore[arg-type]
    return Reply(MemberPage(items=items, total=total, offset=q.offset, limit=q.limit))


@endpoint(
    "PUT",
    "/groups/{group_id}/members/{account_id}",
    scope=WRITE,
    tag="groups",
    summary="Add a member",
    status=204,
)
async def add_member(call: Call) -> Reply:
    await org.set_member(
        call.services,
        call.actor,
        call.reach,
        call.params["group_id"],
        call.params["account_id"],
        True,
    )
    return Reply(status=204)


@endpoint(
    "DELETE",
    "/groups/{group_id}/members/{account_id}",
    scope=WRITE,
    tag="groups",
    summary="Remove a member",
    status=204,
)
async def remove_member(call: Call) -> Reply:
    await org.set_member(
        call.services,
        call.actor,
        call.reach,
        call.params["group_id"],
        call.params["account_id"],
        False,
    )
    return Reply(status=204)


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
