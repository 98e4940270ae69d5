"""``roles``, ``assign``, ``unassign`` and ``admin grant``: roles and who holds them where,
changed through the admin service (audited) and shown as the admin API shows them."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from gateway.admin import roles
from gateway.admin.api_roles import assignment_out, role_out
from gateway.admin.models_org import AssignmentCreate, RoleCreate
from gateway.cli.common import (
    EVERYWHERE,
    JsonFlag,
    checked,
    documents,
    emit,
    load_settings,
    operator,
    with_services,
)
from gateway.identity.errors import InvalidInput
from gateway.server.services import Services
from policies.accounts import canonical_username
from store.accounts import AccountStore
from store.roles import role_by_name

group = typer.Typer(help="Roles: global, or an app's own (--client).", no_args_is_help=True)
admin_group = typer.Typer(help="Administrators of the admin API.", no_args_is_help=True)

ClientOption = Annotated[
    str | None, typer.Option("--client", help="The app (client id) whose role it is.")
]
DepartmentOption = Annotated[
    str | None, typer.Option("--department", help="Hold it inside this department's subtree.")
]
# The API's assignment fields as this command names them.
FLAGS = {
    "account_id": "ACCOUNT",
    "role_id": "ROLE",
    "department_id": "--department",
    "expires_at": "--expires",
}
AccountArgument = Annotated[str, typer.Argument(help="Account id or username.")]
RoleArgument = Annotated[str, typer.Argument(help="Role name.")]


async def account_id_of(services: Services, account: str) -> str:
    """An account named by id or by username."""
    found = await services.accounts.get(account)
    if found is None:
        found = await AccountStore(services.database).by_username(canonical_username(account))
    if found is None:
        raise InvalidInput("account", f"no account {account!r}")
    return found.id


async def role_named(services: Services, name: str, client: str | None) -> Any:
    async with services.database.sessions() as session:
        role = await role_by_name(session, client or "", name)
    if role is None:
        owner = f"of client {client}" if client else "global"
        raise InvalidInput("role", f"no {owner} role {name!r}")
    return role


@group.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Role name, e.g. auditor.")],
    client: ClientOption = None,
    description: Annotated[str, typer.Option(help="What it lets one do.")] = "",
    as_json: JsonFlag = False,
) -> None:
    """Define a role: global, or with --client the app's own."""
    body, _ = checked(
        RoleCreate,
        {"name": name, "description": description, "client_id": client},
        {"client_id": "--client"},
    )
    role = with_services(
        load_settings(),
        lambda s: roles.create_role(
            s, operator(), EVERYWHERE, body.name, body.description, body.client_id
        ),
    )
    emit(as_json, role_out(role), [f"added role {role.name} (id {role.id})"])


@group.command("list")
def list_roles(client: ClientOption = None, as_json: JsonFlag = False) -> None:
    """List roles (with --client: that app's only)."""

    async def listing(services: Services) -> list[Any]:
        found, _ = await roles.list_roles(services, EVERYWHERE, 0, 10**9, client_id=client)
        return found

    found = with_services(load_settings(), listing, read_only=True)
    emit(
        as_json,
        {"roles": documents([role_out(r) for r in found])},
        [f"{r.client_id or '(global)':38} {r.name:24} {r.description}" for r in found],
    )


@group.command("remove")
def remove(name: RoleArgument, client: ClientOption = None) -> None:
    """Delete a role and every assignment of it."""

    async def delete(services: Services) -> None:
        role = await role_named(services, name, client)
        await roles.delete_role(services, operator(), EVERYWHERE, role.id)

    with_services(load_settings(), delete)
    typer.echo(f"removed role {name}")


def assign(
    account: AccountArgument,
    role: RoleArgument,
    client: ClientOption = None,
    department: DepartmentOption = None,
    expires: Annotated[
        str | None, typer.Option(help="ISO 8601 end, e.g. 2030-01-31T18:00:00+08:00.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Let an account hold a role (inside a department's subtree, until a time)."""
    given = {"account_id": account, "role_id": role, "department_id": department}
    body, _ = checked(AssignmentCreate, {**given, "expires_at": expires}, FLAGS)
    expires_at = body.expires_at.timestamp() if body.expires_at else None

    async def grant(services: Services) -> Any:
        account_id = await account_id_of(services, account)
        found = await role_named(services, role, client)
        return await roles.assign(
            services, operator(), EVERYWHERE, account_id, found.id, department, expires_at
        )

    assignment = with_services(load_settings(), grant)
    where = f" in {department}" if department else ""
    emit(as_json, assignment_out(assignment), [f"assigned {role}{where} to {account}"])


def unassign(
    account: AccountArgument,
    role: RoleArgument,
    client: ClientOption = None,
    department: DepartmentOption = None,
) -> None:
    """Take a role away (the assignment in that department, or the one held everywhere)."""

    async def take(services: Services) -> None:
        account_id = await account_id_of(services, account)
        found = await role_named(services, role, client)
        held, _ = await roles.list_assignments(
            services,
            EVERYWHERE,
            0,
            1,
            account_id=account_id,
            role_id=found.id,
            department_id=department or "",
        )
        if not held:
            raise InvalidInput("role", f"{account} does not hold {role} there")
        await roles.unassign(services, operator(), EVERYWHERE, held[0].id)

    with_services(load_settings(), take)
    typer.echo(f"took {role} from {account}")


@admin_group.command("grant")
def admin_grant(
    account: AccountArgument,
    scope: Annotated[
        list[str] | None,
        typer.Option("--scope", help="admin:read and/or admin:write (repeatable)."),
    ] = None,
    department: Annotated[
        str | None, typer.Option(help="Administer this department's subtree only.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Make an account an administrator (the first one, too): it gets the global admin roles,
    created when missing. Its tokens need the same scopes from a client allowed them."""
    scopes = scope or ["admin:read", "admin:write"]

    async def grant(services: Services) -> list[Any]:
        account_id = await account_id_of(services, account)
        return await roles.grant_admin(services, operator(), account_id, scopes, department)

    granted = with_services(load_settings(), grant)
    where = f" in {department}" if department else " city-wide"
    emit(
        as_json,
        {"assignments": documents([assignment_out(a) for a in granted])},
        [f"{account} holds {' and '.join(scopes)}{where}"],
    )
