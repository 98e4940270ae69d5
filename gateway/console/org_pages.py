"""组织机构: the department tree a level at a time (it stays fast with many thousands of
departments: one level, one page of it, is read at a time), a search by name, and create,
rename, move and delete through the admin API's own service (``gateway/admin/org.py``)."""

from __future__ import annotations

import re

from starlette.responses import RedirectResponse, Response

from gateway.admin import org
from gateway.admin.etags import etag_of
from gateway.admin.http import validated
from gateway.admin.models_org import DepartmentCreate, DepartmentPatch
from gateway.admin.reach import Reach
from gateway.console.context import Console, view
from gateway.console.paging import offset_of, pager
from gateway.server.responses import Problem
from store.records import Department

PAGE = 50
PARENT = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")


async def _roots(console: Console, reach: Reach, offset: int) -> tuple[list[Department], int]:
    """The top of the tree this administrator sees: the city's top level, or the departments
    its roles are held in."""
    if reach.city_wide:
        return await org.list_departments(console.services, reach, offset, PAGE, parent_id="")
    found = []
    for path in reach.paths:
        try:
            found.append(await org.get_department(console.services, reach, path.rsplit("/")[-1]))
        except Problem:  # deleted meanwhile
            continue
    return found, len(found)


@view("list_departments")
async def departments(console: Console) -> Response:
    reach = console.reach()
    q = console.request.query_params.get("q", "").strip()[:200]
    offset = offset_of(console.request)
    if q:
        found, total = await org.list_departments(console.services, reach, offset, PAGE, name=q)
    else:
        found, total = await _roots(console, reach, offset)
    return console.page(
        "console_departments.html",
        {"q": q, "departments": found, **pager(offset, total, PAGE, q=q)},
    )


async def _trail(console: Console, reach: Reach, department: Department) -> list[Department]:
    """The departments above it that this administrator sees (breadcrumbs)."""
    trail = []
    for ancestor in department.path.strip("/").split("/")[:-1]:
        try:
            trail.append(await org.get_department(console.services, reach, ancestor))
        except Problem:
            continue
    return trail


@view("get_department")
async def department(console: Console) -> Response:
    reach = console.reach()
    department_id = console.request.path_params["department_id"]
    found = await org.get_department(console.services, reach, department_id)
    offset = offset_of(console.request)
    children, total = await org.list_departments(
        console.services, reach, offset, PAGE, parent_id=department_id
    )
    return console.page(
        "console_department.html",
        {
            "department": found,
            "version": etag_of(found),
            "trail": await _trail(console, reach, found),
            "children": children,
            **pager(offset, total, PAGE),
            "done": console.request.query_params.get("done"),
        },
    )


def _to(department_id: str | None, done: str) -> Response:
    where = f"/admin/departments/{department_id}" if department_id else "/admin/departments"
    return RedirectResponse(f"{where}?done={done}", status_code=303)


@view("create_department")
async def create(console: Console) -> Response:
    writer = console.writer
    body = validated(
        DepartmentCreate,
        {
            "id": console.form.get("id", ""),
            "name": console.form.get("name", ""),
            "parent_id": console.form.get("parent_id"),
        },
        "body",
    )
    made = await org.create_department(
        console.services, console.actor, writer, body.id, body.name, body.parent_id
    )
    return _to(made.id, "created")


@view("patch_department")
async def rename(console: Console) -> Response:
    writer = console.writer
    body = validated(DepartmentPatch, {"name": console.form.get("name", "")}, "body")
    department_id = console.request.path_params["department_id"]
    await org.update_department(
        console.services,
        console.actor,
        writer,
        department_id,
        name=body.name,
        pre=console.precondition(),
    )
    return _to(department_id, "renamed")


@view("patch_department")
async def move(console: Console) -> Response:
    writer = console.writer
    body = validated(DepartmentPatch, {"parent_id": console.form.get("parent_id")}, "body")
    department_id = console.request.path_params["department_id"]
    await org.update_department(
        console.services,
        console.actor,
        writer,
        department_id,
        move=True,
        parent_id=body.parent_id,
        pre=console.precondition(),
    )
    return _to(department_id, "moved")


@view("delete_department")
async def delete(console: Console) -> Response:
    writer = console.writer
    department_id = console.request.path_params["department_id"]
    await org.delete_department(
        console.services, console.actor, writer, department_id, console.precondition()
    )
    parent = console.form.get("parent_id", "")
    return _to(parent if PARENT.fullmatch(parent) else None, "deleted")
