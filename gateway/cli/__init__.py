"""The ``yihaotong`` command. Its flags and ``--json`` shapes are a contract: scripts and
conformance tools drive the gateway through them. Every write goes through the admin API's
service for it, with the API's checks, as the operating-system user (audited ``via`` cli),
and prints the document the API answers with."""

from __future__ import annotations

import typer

from gateway.cli import (
    backup,
    clients,
    departments,
    imports,
    keys,
    policies,
    providers,
    resources,
    roles,
    server,
    users,
)

app = typer.Typer(
    name="yihaotong",
    help="一号通 Yihaotong: unified identity and single sign-on gateway.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command()(server.init)
app.command()(server.serve)
app.add_typer(providers.group, name="providers")
app.add_typer(departments.group, name="departments")
app.add_typer(roles.group, name="roles")
app.command("assign")(roles.assign)
app.command("unassign")(roles.unassign)
app.add_typer(policies.group, name="policies")
app.add_typer(roles.admin_group, name="admin")
app.add_typer(users.group, name="users")
app.add_typer(imports.group, name="import")
app.add_typer(clients.group, name="clients")
app.add_typer(resources.group, name="resources")
app.add_typer(keys.group, name="keys")
app.command()(backup.backup)
app.command()(backup.restore)


def main() -> None:
    app()
