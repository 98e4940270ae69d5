"""``providers``: department login systems, added and removed through the admin service
(audited), shown as the admin API shows them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gateway.admin import platform
from gateway.admin.models import ProviderCreate, ProviderOut
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
from gateway.identity.errors import GatewayError, InvalidInput
from gateway.server.services import Services
from providers.base import ProviderError, ProviderUnavailable

group = typer.Typer(help="Department login systems.", no_args_is_help=True)


@group.command("add")
def add(
    provider_id: Annotated[str, typer.Option("--id", help="Short id, e.g. tax.")],
    kind: Annotated[str, typer.Option("--type", help="ldap, legacy_sql, oidc, cas or province.")],
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
    found = with_services(
        load_settings(), lambda s: platform.list_providers(s, EVERYWHERE), read_only=True
    )
    shown = [ProviderOut(**platform.provider_document(d)) for d in found]
    emit(
        as_json,
        {"providers": documents(shown)},
        [
            f"{d.id:16} {d.type:10} {d.name}" + ("" if d.available else f"  unavailable: {d.error}")
            for d in shown
        ],
    )


@group.command("test")
def test(provider_id: Annotated[str, typer.Argument(help="Provider id.")]) -> None:
    """Check that the department's system answers, and say what it found."""

    async def check(services: Services) -> str:
        login_system = await services.login_systems.get(provider_id)
        if login_system is None:
            broken = await services.login_systems.broken(provider_id)
            if broken is not None:
                raise GatewayError(f"{broken.name}: unavailable: {broken.error}")
            raise InvalidInput("id", f"no provider {provider_id!r}")
        try:
            return await login_system.provider.check()
        except ProviderUnavailable as error:
            raise GatewayError(f"{error.department}: {error.reason}") from error
        except ProviderError as error:
            raise GatewayError(str(error)) from error

    typer.echo(f"{provider_id}: {with_services(load_settings(), check, read_only=True)}")


@group.command("remove")
def remove(provider_id: Annotated[str, typer.Argument(help="Provider id.")]) -> None:
    """Remove a department login system (accounts and their links stay)."""
    with_services(
        load_settings(),
        lambda s: platform.remove_provider(s, operator(), EVERYWHERE, provider_id),
    )
    typer.echo(f"removed {provider_id}")
