"""群组: the groups an administrator reaches (by a department, a page at a time), adding one,
renaming or moving one, a group's members (found by username or name, added, removed) and
removing the group, through the admin API's own service (``gateway/admin/org.py``)."""

from __future__ import annotations

import re

from starlette.responses import RedirectResponse, Response

from gateway.admin import org, people
from gateway.admin.etags import etag_of
from gateway.admin.http import validated
from gateway.admin.models_org import GroupCreate, GroupPatch
from gateway.console.context import Console, view
from gateway.console.paging import offset_of, pager
from gateway.console.people_pages import when
from gateway.console.role_pages import account_named
from gateway.server.responses import Forbidden, Missing
from store.records import Account

PAGE = 50
FOUND = 10  # accounts offered for adding at a time
DEPARTMENT = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")


@view("list_groups")
async def group_list(console: Console) -> Response:
    raw = console.request.query_params.get("department", "").strip()[:32]
    department = raw if DEPARTMENT.fullmatch(raw) else ""
    offset = offset_of(console.request)
    found, total = await org.list_groups(
        console.services, console.reach(), offset, PAGE, department or None
    )
    return console.page(
        "console_groups.html",
        {
            "groups": found,
            "department": department,
            **pager(offset, total, PAGE, department=department),
            "done": console.request.query_params.get("done"),
        },
    )


@view("create_group")
async def create_group(console: Console) -> Response:
    writer = console.writer
    body = validated(
        GroupCreate,
        {
            "id": console.form.get("id", ""),
            "name": console.form.get("name", ""),
            "department_id": console.form.get("department_id") or None,
        },
        "body",
    )
    group = await org.create_group(
        console.services, console.actor, writer, body.id, body.name, body.department_id
    )
    return RedirectResponse(f"/admin/groups/{group.id}?done=group_created", status_code=303)


async def _candidates(console: Console, q: str) -> list[Account]:
    """Accounts in reach whose username, or else name, starts with ``q``."""
    services, reach = console.services, console.reach()
    found, _ = await people.list_accounts(services, reach, 0, FOUND, username=q.lower())
    if not found:
        found, _ = await people.list_accounts(services, reach, 0, FOUND, name_prefix=q)
    return found


@view("get_group")
async def group_page(console: Console) -> Response:
    services, reach = console.services, console.reach()
    group = await org.get_group(services, reach, console.request.path_params["group_id"])
    offset = offset_of(console.request)
    listed, total = await org.members(services, reach, group.id, offset, PAGE)
    members = []
    for account_id, added in listed:
        try:  # a member another administrator added from outside the reach: its id only
            account: Account | None = await people.get_account(services, reach, account_id)
        except (Missing, Forbidden):
            account = None
        members.append(
            {
                "id": account_id,
                "username": account.username if account else account_id,
                "name": (account.name if account else None) or "—",
                "added": when(added),
            }
        )
    find = console.request.query_params.get("find", "").strip()[:64]
    return console.page(
        "console_group.html",
        {
            "group": group,
            "version": etag_of(group),
            "members": members,
            **pager(offset, total, PAGE),
            "find": find,
            "candidates": await _candidates(console, find) if find else [],
            "done": console.request.query_params.get("done"),
        },
    )


def _back(group_id: str, done: str) -> Response:
    return RedirectResponse(f"/admin/groups/{group_id}?done={done}", status_code=303)


@view("add_member")
async def add_member(console: Console) -> Response:
    group_id = console.request.path_params["group_id"]
    account_id = await account_named(console, console.form.get("account", "").strip()[:64])
    await org.set_member(
        console.services, console.actor, console.writer, group_id, account_id, True
    )
    return _back(group_id, "member_added")


@view("remove_member")
async def remove_member(console: Console) -> Response:
    params = console.request.path_params
    await org.set_member(
        console.services,
        console.actor,
        console.writer,
        params["group_id"],
        params["account_id"],
        False,
    )
    return _back(params["group_id"], "member_removed")


@view("patch_group")
async def update_group(console: Console) -> Response:
    """Rename, and move to another department (one the administrator reaches; empty: a
    city-wide group), at the version read."""
    writer = console.writer
    group_id = console.request.path_params["group_id"]
    body = validated(
        GroupPatch,
        {
            "name": console.form.get("name", ""),
            "department_id": console.form.get("department_id", "").strip() or None,
        },
        "body",
    )
    await org.update_group(
        console.services,
        console.actor,
        writer,
        group_id,
        {"name": body.name, "department_id": body.department_id},
        console.precondition(),
    )
    return _back(group_id, "group_updated")


@view("delete_group")
async def delete_group(console: Console) -> Response:
    writer = console.writer
    await org.delete_group(
        console.services,
        console.actor,
        writer,
        console.request.path_params["group_id"],
        console.precondition(),
    )
    return RedirectResponse("/admin/groups?done=group_deleted", status_code=303)
