"""``keys``: the signing keys; rotation goes through the admin service (audited)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from gateway.admin import platform
from gateway.admin.models import KeyOut, RotateIn, RotateOut
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
from gateway.server.services import Services

group = typer.Typer(help="Signing keys.", no_args_is_help=True)


def seconds(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


@group.command("list")
def list_keys(as_json: JsonFlag = False) -> None:
    """List signing keys: next (published, not signing yet), active, retired (still published)."""

    async def listing(services: Services) -> list[KeyOut]:
        return platform.key_documents(services, EVERYWHERE)

    keys = with_services(load_settings(), listing, read_only=True)
    emit(
        as_json,
        {"keys": documents(keys)},  # type: ignore[arg-type]
        [f"{k.alg:6} {k.state:8} {k.kid}  created {seconds(k.created_at)}" for k in keys],
    )


@group.command("rotate")
def rotate(
    alg: Annotated[
        str | None, typer.Option(help="Algorithm (default: the first configured).")
    ] = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Rotate even if the next key was published only recently."),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Retire the active key, let the published next key sign, publish a new next key."""
    body, _ = checked(RotateIn, {"alg": alg, "force": force})
    result = with_services(
        load_settings(),
        lambda s: platform.rotate_key(s, operator(), EVERYWHERE, body.alg, body.force),
    )
    line = (
        f"{result.alg}: now signing with {result.active_kid}; next key {result.next_kid}"
        if result.rotated
        else f"{result.alg}: another instance rotated at the same moment; nothing changed"
    )
    document = RotateOut(
        alg=result.alg,
        rotated=result.rotated,
        active_kid=result.active_kid,
        next_kid=result.next_kid,
    )
    emit(as_json, document, [line])
