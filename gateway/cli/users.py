"""``users``: local 一号通 accounts, created through the admin service (audited)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from gateway.admin import people
from gateway.admin.api_people import account_out
from gateway.cli.common import (
    EVERYWHERE,
    JsonFlag,
    emit,
    fail,
    load_settings,
    operator,
    with_services,
)

group = typer.Typer(help="Local 一号通 accounts.", no_args_is_help=True)


def read_password() -> str:
    """Standard input up to its final newline."""
    password = sys.stdin.read()
    password = password[:-1] if password.endswith("\n") else password
    return password[:-1] if password.endswith("\r") else password


@group.command("create")
def create(
    username: Annotated[str, typer.Option(help="Sign-in name.")],
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    phone: Annotated[str | None, typer.Option(help="Mobile number.")] = None,
    email: Annotated[str | None, typer.Option(help="E-mail address.")] = None,
    department: Annotated[
        str | None, typer.Option(help="The department the person works in (staff).")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Create a local account."""
    if not password_stdin:
        fail("give the password on standard input with --password-stdin (never as an argument)")
    password = read_password()
    values = {"username": username, "name": name, "phone": phone, "email": email}
    account = with_services(
        load_settings(),
        lambda s: people.create_account(s, operator(), EVERYWHERE, values, password, department),
    )
    emit(
        as_json,
        account_out(account),
        [f"created account {account.username} (id {account.id})"],
    )
