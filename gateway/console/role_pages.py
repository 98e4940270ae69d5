"""角色与授权: roles (global, and those of the apps an administrator reaches), who holds them
where and until when, granting and taking them away, through the admin API's own service
(``gateway/admin/roles.py``), an administrator handing on only the administration it holds."""

from __future__ import annotations

from datetime import date

from starlette.responses import RedirectResponse, Response

from gateway.admin import people, roles
from gateway.admin.etags import etag_of
from gateway.admin.http import validated
from gateway.admin.models_org import AssignmentCreate, RoleCreate, RolePatch
from gateway.console.context import Console, view
from gateway.console.paging import offset_of, pager
from gateway.console.people_pages import when
from gateway.server.responses import Invalid

PAGE = 50
CHINA = "+08:00"  # an expiry date ends at midnight, Beijing time


@view("list_roles")
async def role_list(console: Console) -> Response:
    q = console.request.query_params.get("q", "").strip()[:64]
    offset = offset_of(console.request)
    found, total = await roles.list_roles(
        console.services, console.reach(), offset, PAGE, name=q or None
    )
    return console.page(
        "console_roles.html",
        {"q": q, "roles": found, **pager(offset, total, PAGE, q=q)},
    )


@view("create_role")
async def create_role(console: Console) -> Response:
    writer = console.writer
    body = validated(
        RoleCreate,
        {
            "name": console.form.get("name", ""),
            "description": console.form.get("description", ""),
            "client_id": console.form.get("client_id"),
        },
        "body",
    )
    role = await roles.create_role(
        console.services, console.actor, writer, body.name, body.description, body.client_id
    )
    return RedirectResponse(f"/admin/roles/{role.id}?done=role_created", status_code=303)


@view("get_role")
async def role_page(console: Console) -> Response:
    services, reach = console.services, console.reach()
    role = await roles.get_role(services, reach, console.request.path_params["role_id"])
    offset = offset_of(console.request)
    held, total = await roles.list_assignments(services, reach, offset, PAGE, role_id=role.id)
    holders = []
    for assignment in held:
        account = await services.accounts.get(assignment.account_id)
        holders.append(
            {
                "id": assignment.id,
                "version": etag_of(assignment),
                "account_id": assignment.account_id,
                "username": account.username if account else assignment.account_id,
                "where": assignment.department_id,
                "expires": when(assignment.expires_at) if assignment.expires_at else "",
            }
        )
    return console.page(
        "console_role.html",
        {
            "role": role,
            "version": etag_of(role),
            "holders": holders,
            **pager(offset, total, PAGE),
            "done": console.request.query_params.get("done"),
        },
    )


async def account_named(console: Console, name: str) -> str:
    """An account typed by username (inside the reach) or by id; the service checks the id."""
    found, _ = await people.list_accounts(
        console.services, console.reach(), 0, 2, username=name.lower()
    )
    exact = [a.id for a in found if a.username == name.lower()]
    return exact[0] if exact else name


def expiry(value: str | None) -> str | None:
    """The end of the day a date input gives, in Beijing (a date only: a time would make the
    result no date-time at all)."""
    if not value:
        return None
    try:
        date.fromisoformat(value)
    except ValueError:
        raise Invalid.field(["body", "expires_at"], "give a date as YYYY-MM-DD") from None
    return f"{value}T23:59:59{CHINA}"


@view("create_assignment")
async def assign(console: Console) -> Response:
    writer = console.writer
    role_id = console.request.path_params["role_id"]
    account = console.form.get("account", "").strip()[:64]
    body = validated(
        AssignmentCreate,
        {
            "account_id": await account_named(console, account) if account else "",
            "role_id": role_id,
            "department_id": console.form.get("department_id"),
            "expires_at": expiry(console.form.get("expires")),
        },
        "body",
    )
    await roles.assign(
        console.services,
        console.actor,
        writer,
        body.account_id,
        body.role_id,
        body.department_id,
        body.expires_at.timestamp() if body.expires_at else None,
        held=console.admin.held,
    )
    return RedirectResponse(f"/admin/roles/{role_id}?done=assigned", status_code=303)


@view("delete_assignment")
async def unassign(console: Console) -> Response:
    writer = console.writer
    await roles.unassign(
        console.services,
        console.actor,
        writer,
        console.request.path_params["assignment_id"],
        console.precondition(),
    )
    back = console.form.get("role_id", "")
    where = f"/admin/roles/{back}" if back.replace("-", "").isalnum() else "/admin/roles"
    return RedirectResponse(f"{where}?done=unassigned", status_code=303)


@view("patch_role")
async def update_role(console: Console) -> Response:
    writer = console.writer
    role_id = console.request.path_params["role_id"]
    form = console.form
    body = validated(
        RolePatch,
        {"name": form.get("name", ""), "description": form.get("description", "")},
        "body",
    )
    values = body.model_dump(exclude_none=True)
    await roles.update_role(
        console.services, console.actor, writer, role_id, values, console.precondition()
    )
    return RedirectResponse(f"/admin/roles/{role_id}?done=role_updated", status_code=303)


@view("delete_role")
async def delete_role(console: Console) -> Response:
    writer = console.writer
    role_id = console.request.path_params["role_id"]
    role = await roles.get_role(console.services, writer, role_id)
    await roles.delete_role(
        console.services, console.actor, writer, role_id, console.precondition()
    )
    where = f"/admin/apps/{role.client_id}" if role.client_id else "/admin/roles"
    return RedirectResponse(f"{where}?done=role_deleted", status_code=303)
