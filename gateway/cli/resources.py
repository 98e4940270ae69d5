"""``resources``: department APIs registered as resources (RFC 8707), with the admin API's
checks, audited, and printed as the API's resource document."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from gateway.admin import resources
from gateway.admin.models_resources import ResourceCreate, ResourceOut
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

group = typer.Typer(
    help="Department APIs as resources (RFC 8707): the audience and scopes of their tokens.",
    no_args_is_help=True,
)


@group.command("create")
def create(
    audience: Annotated[
        str, typer.Option(help="The API's URI: the `resource` clients ask for, the tokens' aud.")
    ],
    scope: Annotated[
        list[str], typer.Option("--scope", help="A scope the API accepts (repeatable).")
    ],
    name: Annotated[str | None, typer.Option(help="Shown to administrators.")] = None,
    access_token_format: Annotated[
        str | None, typer.Option(help="jwt (the default) or opaque.")
    ] = None,
    allowed_client: Annotated[
        list[str] | None,
        typer.Option(
            "--allowed-client",
            help="A client that may ask for tokens to it (repeatable); no other may.",
        ),
    ] = None,
    exchange_client: Annotated[
        list[str] | None,
        typer.Option(
            "--exchange-client",
            help="A client that may exchange people's tokens for it (RFC 8693; repeatable).",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Register a department API. The clients named by --allowed-client may then ask for
    tokens to it with `resource` (RFC 8707)."""
    given: dict[str, Any] = {
        "audience": audience,
        "scopes": scope,
        "name": name,
        "access_token_format": access_token_format,
        "allowed_clients": allowed_client,
        "exchange_clients": exchange_client,
    }
    _, values = checked(ResourceCreate, {k: v for k, v in given.items() if v is not None})
    created = with_services(
        load_settings(),
        lambda s: resources.create_resource(s, operator(), EVERYWHERE, values),
    )
    document = ResourceOut(**resources.resource_document(created))
    emit(as_json, document, [f"{created.audience}  {' '.join(created.scopes)}"])


@group.command("list")
def list_resources(as_json: JsonFlag = False) -> None:
    """List registered resources."""
    found = with_services(
        load_settings(), lambda s: resources.list_resources(s, EVERYWHERE), read_only=True
    )
    emit(
        as_json,
        {"resources": documents([ResourceOut(**resources.resource_document(r)) for r in found])},
        [f"{r.audience}  {r.access_token_format}  {' '.join(r.scopes)}" for r in found],
    )


@group.command("delete")
def delete(audience: Annotated[str, typer.Argument(help="The resource's audience URI.")]) -> None:
    """Remove a resource; tokens issued for it stay valid until they expire."""
    with_services(
        load_settings(),
        lambda s: resources.delete_resource(s, operator(), EVERYWHERE, audience),
    )
    typer.echo(f"removed {audience}")
