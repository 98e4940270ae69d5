"""``clients``: OAuth / OpenID Connect clients, registered through the admin service with
the admin API's checks, audited, and printed as the API's client document."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from gateway.admin import apps, lifecycle
from gateway.admin.api_apps import client_out
from gateway.admin.models import ClientCreate, ClientCreated, ClientOut
from gateway.admin.models_ops import ClientStateChange
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
from store.records import Client

group = typer.Typer(
    help="Department apps: OAuth / OpenID Connect clients and CAS services.", no_args_is_help=True
)


@group.command("create")
def create(
    name: Annotated[str, typer.Option(help="Name shown to users.")],
    redirect_uri: Annotated[
        list[str] | None, typer.Option("--redirect-uri", help="Redirect URI (repeatable).")
    ] = None,
    post_logout_redirect_uri: Annotated[
        list[str] | None,
        typer.Option("--post-logout-redirect-uri", help="Post-logout redirect URI (repeatable)."),
    ] = None,
    backchannel_logout_uri: Annotated[
        str | None, typer.Option(help="Back-channel logout URI.")
    ] = None,
    frontchannel_logout_uri: Annotated[
        str | None, typer.Option(help="Front-channel logout URI (loaded in an iframe).")
    ] = None,
    subject_type: Annotated[
        str | None,
        typer.Option(
            help="pairwise (the default: a different `sub` per sector), or public: the account "
            "id in every app (a city-wide decision; give --subject-type-reason)."
        ),
    ] = None,
    subject_type_reason: Annotated[
        str | None,
        typer.Option(help="Why the app needs the public `sub` (kept in the audit log)."),
    ] = None,
    sector_identifier: Annotated[
        str | None,
        typer.Option(
            help="Sector for pairwise subjects (default: the redirect host; a native app is its "
            "own sector)."
        ),
    ] = None,
    sector_reason: Annotated[
        str | None,
        typer.Option(
            help="Why the app shares the pairwise sector of another department's apps (kept in "
            "the audit log)."
        ),
    ] = None,
    grant_type: Annotated[
        list[str] | None,
        typer.Option(
            "--grant-type",
            help="authorization_code, refresh_token, client_credentials, "
            "urn:ietf:params:oauth:grant-type:device_code, "
            "urn:ietf:params:oauth:grant-type:token-exchange (repeatable; default "
            "authorization_code + refresh_token).",
        ),
    ] = None,
    public: Annotated[
        bool, typer.Option("--public", help="No secret: 'none' auth + PKCE.")
    ] = False,
    require_consent: Annotated[
        bool, typer.Option("--require-consent", help="Ask users to consent.")
    ] = False,
    token_endpoint_auth_method: Annotated[
        str | None,
        typer.Option(help="Pin client_secret_basic or client_secret_post (default: either)."),
    ] = None,
    scope: Annotated[
        list[str] | None,
        typer.Option("--scope", help="API scope the client may request (repeatable)."),
    ] = None,
    access_token_format: Annotated[
        str | None,
        typer.Option(
            help="jwt (the default; RFC 9068, checked with the JWKS) or opaque (resolved by "
            "introspection)."
        ),
    ] = None,
    resource_server: Annotated[
        bool,
        typer.Option(
            "--resource-server", help="An API: may introspect other clients' access tokens."
        ),
    ] = False,
    admin_console: Annotated[
        bool,
        typer.Option(
            "--admin-console",
            help="Designated for administration: the admin API accepts its tokens "
            "(give it --scope admin:read and/or admin:write).",
        ),
    ] = False,
    dpop_bound_access_tokens: Annotated[
        bool,
        typer.Option(
            "--dpop-bound-access-tokens",
            help="Token requests must carry a DPoP proof; tokens are bound to its key "
            "(RFC 9449 §5.2).",
        ),
    ] = False,
    require_pushed_authorization_requests: Annotated[
        bool,
        typer.Option(
            "--require-pushed-authorization-requests",
            help="Authorization requests must be pushed first (RFC 9126 §6).",
        ),
    ] = False,
    department: Annotated[
        str | None, typer.Option(help="The department that owns the app (its admins manage it).")
    ] = None,
    protocol: Annotated[
        str, typer.Option(help="oidc (the default), cas or saml: how the app signs people in.")
    ] = "oidc",
    service_url: Annotated[
        list[str] | None,
        typer.Option(
            "--service-url",
            help="CAS service URL (repeatable): exact, or a prefix ending in * (for --protocol "
            "cas).",
        ),
    ] = None,
    cas_proxy: Annotated[
        bool,
        typer.Option("--cas-proxy", help="CAS: the app may obtain proxy tickets (pgtUrl)."),
    ] = False,
    cas_v1: Annotated[
        bool, typer.Option("--cas-v1", help="CAS: the app may validate with /cas/validate.")
    ] = False,
    sp_metadata: Annotated[
        Path | None,
        typer.Option(
            "--sp-metadata",
            help="SAML: the service provider's metadata file (for --protocol saml).",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    requests_per_minute: Annotated[
        int | None,
        typer.Option(
            "--requests-per-minute",
            min=0,
            help="Requests the client may make each minute at each of the token, introspection "
            "and UserInfo endpoints (0: YIHAOTONG_CLIENT_REQUESTS_PER_MINUTE).",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Register a client. A confidential client's secret is printed once and never again."""
    given: dict[str, Any] = {
        "client_name": name,
        "redirect_uris": redirect_uri,
        "post_logout_redirect_uris": post_logout_redirect_uri,
        "backchannel_logout_uri": backchannel_logout_uri,
        "frontchannel_logout_uri": frontchannel_logout_uri,
        "subject_type": subject_type,
        "subject_type_reason": subject_type_reason,
        "sector_identifier": sector_identifier,
        "sector_reason": sector_reason,
        "grant_types": grant_type,
        "public": public or None,
        "require_consent": require_consent or None,
        "token_endpoint_auth_method": token_endpoint_auth_method,
        "scopes": scope,
        "access_token_format": access_token_format,
        "resource_server": resource_server or None,
        "admin_console": admin_console or None,
        "dpop_bound_access_tokens": dpop_bound_access_tokens or None,
        "require_pushed_authorization_requests": require_pushed_authorization_requests or None,
        "department_id": department,
        "protocol": protocol,
        "service_urls": service_url,
        "cas_proxy": cas_proxy or None,
        "cas_v1": cas_v1 or None,
        "sp_metadata": sp_metadata.read_text(encoding="utf-8") if sp_metadata else None,
        "requests_per_minute": requests_per_minute,
    }
    # A flag left out is a field left out of the API's body: the service's default applies.
    _, values = checked(ClientCreate, {k: v for k, v in given.items() if v is not None})
    client, secret = with_services(
        load_settings(), lambda s: apps.create_client(s, operator(), EVERYWHERE, values)
    )
    lines = [f"client_id:     {client.client_id}"]
    if secret:
        lines.append(f"client_secret: {secret}")
        lines.append("(the secret is shown only now; store it in the app's secret store)")
    emit(as_json, ClientCreated(**client_out(client), client_secret=secret), lines)


@group.command("list")
def list_clients(as_json: JsonFlag = False) -> None:
    """List registered clients (never their secrets)."""

    async def listing(services: Services) -> list[Client]:
        found, _ = await apps.list_clients(services, EVERYWHERE, 0, 10**9)
        return found

    clients = with_services(load_settings(), listing, read_only=True)
    emit(
        as_json,
        {"clients": documents([ClientOut(**client_out(c)) for c in clients])},
        [f"{c.client_id}  {c.name}  {' '.join(c.grant_types) or c.protocol}" for c in clients],
    )


@group.command("state")
def set_state(
    client_id: Annotated[str, typer.Argument(help="Client id.")],
    state: Annotated[str, typer.Argument(help="draft, live, suspended or retired.")],
    as_json: JsonFlag = False,
) -> None:
    """Change an app's lifecycle state: only a live app signs people in or gets tokens;
    retired is final."""
    body, _ = checked(ClientStateChange, {"state": state})
    client = with_services(
        load_settings(),
        lambda s: lifecycle.set_state(s, operator(), EVERYWHERE, client_id, body.state),
    )
    emit(as_json, ClientOut(**client_out(client)), [f"{client.client_id}: {client.state}"])
