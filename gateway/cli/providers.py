"""``providers``: department login systems, added and removed through the admin service
(audited), shown as the admin API shows them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gateway.admin import platform
from gateway.admin.models import ProviderCreate, ProviderOut
from gateway.admin.models_ops import ProviderTestOut
from gateway.cli.common import (
    EVERYWHERE,
    JsonFlag,
    checked,
    documents,
    emit,
    fail,
    load_settings,
    operator,
    read_json,
    with_services,
)
from gateway.server.services import Services

group = typer.Typer(help="Department login systems.", no_args_is_help=True)


@group.command("add")
def add(
    provider_id: Annotated[str, typer.Option("--id", help="Short id, e.g. tax.")],
    kind: Annotated[
        str, typer.Option("--type", help="ldap, legacy_sql, oidc, cas, province or saml.")
    ],
    config_file: Annotated[
        Path, typer.Option("--config", help="JSON file with the provider's settings.")
    ],
    as_json: JsonFlag = False,
) -> None:
    """Add a department login system; its settings (secrets included) are stored encrypted."""
    try:
        text = config_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        fail(f"cannot read {config_file}: {error}")
    config = read_json(text, str(config_file))
    if not isinstance(config, dict):
        fail(f"{config_file} must hold a JSON object")
    body, _ = checked(ProviderCreate, {"id": provider_id, "type": kind, "config": config})
    login_system = with_services(
        load_settings(),
        lambda s: platform.add_provider(s, operator(), EVERYWHERE, body.id, body.type, body.config),
    )
    emit(
        as_json,
        ProviderOut(**platform.provider_document(login_system)),
        [f"added {login_system.id}: {login_system.name}"],
    )


@group.command("list")
def list_providers(as_json: JsonFlag = False) -> None:
    """List department login systems in sign-in page order (never their secrets)."""

    async def listing(services: Services) -> list[dict]:
        found = await platform.list_providers(services, EVERYWHERE)
        return [await platform.provider_out(services, d) for d in found]

    shown = [ProviderOut(**d) for d in with_services(load_settings(), listing, read_only=True)]
    emit(
        as_json,
        {"providers": documents(shown)},
        [
            f"{d.id:16} {d.type:10} {d.name}"
            + ("  disabled" if d.disabled else "")
            + ("" if d.available else f"  unavailable: {d.error}")
            for d in shown
        ],
    )


@group.command("test")
def test(
    provider_id: Annotated[str, typer.Argument(help="Provider id.")], as_json: JsonFlag = False
) -> None:
    """Check that the department's system answers (as the admin API's test does, audited),
    and say what it found; exits non-zero when it does not answer."""
    result = with_services(
        load_settings(), lambda s: platform.test_provider(s, operator(), EVERYWHERE, provider_id)
    )
    said = result["found"] if result["ok"] else f"failed: {result['reason']}"
    emit(as_json, ProviderTestOut(**result), [f"{provider_id}: {result['checked']}: {said}"])
    if not result["ok"]:
        raise typer.Exit(1)


def _switch(provider_id: str, disabled: bool, as_json: bool) -> None:
    async def switch(services: Services) -> dict:
        found = await platform.set_provider_disabled(
            services, operator(), EVERYWHERE, provider_id, disabled
        )
        return await platform.provider_out(services, found)

    document = with_services(load_settings(), switch)
    word = "disabled" if disabled else "enabled"
    emit(as_json, ProviderOut(**document), [f"{word} {provider_id}"])


@group.command("disable")
def disable(
    provider_id: Annotated[str, typer.Argument(help="Provider id.")], as_json: JsonFlag = False
) -> None:
    """Stop offering a department login system: nobody signs in with it until it is enabled
    again (its settings and the accounts' links stay)."""
    _switch(provider_id, True, as_json)


@group.command("enable")
def enable(
    provider_id: Annotated[str, typer.Argument(help="Provider id.")], as_json: JsonFlag = False
) -> None:
    """Offer a disabled department login system again."""
    _switch(provider_id, False, as_json)


@group.command("remove")
def remove(provider_id: Annotated[str, typer.Argument(help="Provider id.")]) -> None:
    """Remove a department login system (accounts and their links stay)."""
    with_services(
        load_settings(),
        lambda s: platform.remove_provider(s, operator(), EVERYWHERE, provider_id),
    )
    typer.echo(f"removed {provider_id}")
