"""``departments``: the organisation tree, changed through the admin service (audited) and
shown as the admin API shows it."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from gateway.admin import org
from gateway.admin.api_org import department_out
from gateway.admin.models_org import DepartmentCreate, DepartmentPatch
from gateway.cli.common import (
    EVERYWHERE,
    JsonFlag,
    checked,
    documents,
    emit,
    fail,
    load_settings,
    operator,
    with_services,
)
from gateway.server.services import Services

group = typer.Typer(help="The organisation tree (市 → 区 → 部门).", no_args_is_help=True)


@group.command("add")
def add(
    department_id: Annotated[str, typer.Argument(help="Short id, e.g. tax (a-z, 0-9, -).")],
    name: Annotated[str, typer.Option(help="Name, e.g. 税务局.")],
    parent: Annotated[str | None, typer.Option(help="Parent department id.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Add a department (below --parent, or as a root)."""
    body, _ = checked(DepartmentCreate, {"id": department_id, "name": name, "parent_id": parent})
    department = with_services(
        load_settings(),
        lambda s: org.create_department(
            s, operator(), EVERYWHERE, body.id, body.name, body.parent_id
        ),
    )
    emit(as_json, department_out(department), [f"added {department.path}: {department.name}"])


@group.command("list")
def list_departments(
    under: Annotated[str | None, typer.Option(help="A path, e.g. /city/east.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """List departments in tree order."""

    async def listing(services: Services) -> list[Any]:
        found, _ = await org.list_departments(services, EVERYWHERE, 0, 10**9, under)
        return found

    found = with_services(load_settings(), listing, read_only=True)
    emit(
        as_json,
        {"departments": documents([department_out(d) for d in found])},
        [f"{d.path:40} {d.name}" for d in found],
    )


@group.command("move")
def move(
    department_id: Annotated[str, typer.Argument(help="Department id.")],
    parent: Annotated[str | None, typer.Option(help="New parent department id.")] = None,
    root: Annotated[bool, typer.Option("--root", help="Make it a root.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Move a department (and its subtree) below another one."""
    if (parent is None) == (not root):
        fail("give either --parent or --root")
    body, _ = checked(DepartmentPatch, {"parent_id": parent})
    department = with_services(
        load_settings(),
        lambda s: org.update_department(
            s, operator(), EVERYWHERE, department_id, move=True, parent_id=body.parent_id
        ),
    )
    emit(as_json, department_out(department), [f"moved to {department.path}"])


@group.command("remove")
def remove(department_id: Annotated[str, typer.Argument(help="Department id.")]) -> None:
    """Remove an empty department."""
    with_services(
        load_settings(),
        lambda s: org.delete_department(s, operator(), EVERYWHERE, department_id),
    )
    typer.echo(f"removed {department_id}")
