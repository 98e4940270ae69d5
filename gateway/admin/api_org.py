"""Admin API: the department tree, groups and their members (roles: ``api_roles``)."""

from __future__ import annotations

from gateway.admin import org
from gateway.admin.auth import READ, WRITE
from gateway.admin.etags import etag_of
from gateway.admin.http import Call, Reply, endpoint
from gateway.admin.models import PageQuery, when
from gateway.admin.models_org import (
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
)
from store.records import Department, Group


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
    items, total = await org.list_departments(
        call.services, call.reach, q.offset, q.limit, q.under, parent_id=q.parent_id, name=q.name
    )
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
