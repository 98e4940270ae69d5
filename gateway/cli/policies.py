"""``policies``: each app's access and claims policy, read and replaced through the admin
service (audited), shown as the admin API shows it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from gateway.admin import apps
from gateway.admin.api_apps import policy_out
from gateway.cli.common import (
    EVERYWHERE,
    JsonFlag,
    checked,
    emit,
    fail,
    load_settings,
    operator,
    read_json,
    with_services,
)
from gateway.identity.client_policy import PolicyDocument

group = typer.Typer(help="Each app's access and claims policy.", no_args_is_help=True)
ClientArgument = Annotated[str, typer.Argument(help="Client id.")]


@group.command("show")
def show(client_id: ClientArgument) -> None:
    """Print the app's policy (JSON); the default one when it has none."""
    policy = with_services(
        load_settings(), lambda s: apps.get_policy(s, EVERYWHERE, client_id), read_only=True
    )
    emit(True, policy_out(policy), [])


@group.command("set")
def set_policy(
    client_id: ClientArgument,
    source: Annotated[
        str, typer.Argument(help="JSON file with the policy document, or - for stdin.")
    ] = "-",
    as_json: JsonFlag = False,
) -> None:
    """Replace the app's policy document (validated; unknown fields are refused)."""
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        fail(f"cannot read {source}: {error}")
    document, _ = checked(PolicyDocument, read_json(text, source))
    policy = with_services(
        load_settings(),
        lambda s: apps.put_policy(s, operator(), EVERYWHERE, client_id, document),
    )
    emit(as_json, policy_out(policy), [f"policy of {client_id} is now version {policy.version}"])
