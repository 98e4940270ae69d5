"""应用: the apps an administrator reaches, the onboarding of a new one (name, owning
department, redirect URIs → its secret shown once → an integration page a department's
developer can follow), and secret rotation, through the admin API's own service
(``gateway/admin/apps.py``)."""

from __future__ import annotations

from starlette.responses import Response

from gateway.admin import apps
from gateway.admin.etags import etag_of
from gateway.admin.http import validated
from gateway.admin.models import ClientCreate
from gateway.console.context import Console, view
from gateway.endpoints.discovery import DISCOVERY_PATH
from store.records import Client

PAGE = 50


def _offset(console: Console) -> int:
    raw = console.request.query_params.get("offset", "0")
    return min(int(raw), 1_000_000) if raw.isdigit() else 0


@view("list_clients")
async def app_list(console: Console) -> Response:
    q = console.request.query_params.get("q", "").strip()[:200]
    offset = _offset(console)
    found, total = await apps.list_clients(
        console.services, console.reach(), offset, PAGE, name=q or None
    )
    return console.page(
        "console_apps.html",
        {"q": q, "apps": found, "total": total, "offset": offset, "page_size": PAGE},
    )


@view("create_client")
async def new_app(console: Console) -> Response:
    console.writer  # noqa: B018 - the form is for those who may register (403 otherwise)
    return console.page("console_app_new.html", {"values": {}})


def integration(console: Console, client: Client) -> dict[str, object]:
    issuer = console.services.settings.issuer
    return {
        "issuer": issuer,
        "discovery": issuer + DISCOVERY_PATH,
        "client_id": client.client_id,
        "redirect_uri": client.redirect_uris[0] if client.redirect_uris else "",
        "method": client.token_endpoint_auth_method or "client_secret_basic",
        "public": client.public,
    }


@view("create_client")
async def create(console: Console) -> Response:
    writer = console.writer
    form = console.form
    uris = [line.strip() for line in form.get("redirect_uris", "").splitlines() if line.strip()]
    body = validated(
        ClientCreate,
        {
            "client_name": form.get("client_name", ""),
            "redirect_uris": uris,
            "department_id": form.get("department_id"),
            "public": form.get("public") == "true",
        },
        "body",
    )
    values = body.model_dump(exclude_unset=True)
    client, secret = await apps.create_client(console.services, console.actor, writer, values)
    # The secret is on this page and nowhere else: the page is not cached, not stored.
    return console.page(
        "console_app_secret.html",
        {"app": client, "secret": secret, "created": True, **integration(console, client)},
        status=201,
    )


@view("get_client")
async def app_page(console: Console) -> Response:
    client = await apps.get_client(
        console.services, console.reach(), console.request.path_params["client_id"]
    )
    return console.page(
        "console_app.html",
        {"app": client, "version": etag_of(client), **integration(console, client)},
    )


@view("rotate_secret")
async def rotate(console: Console) -> Response:
    writer = console.writer
    client, secret = await apps.rotate_secret(
        console.services,
        console.actor,
        writer,
        console.request.path_params["client_id"],
        console.precondition(),
    )
    return console.page(
        "console_app_secret.html",
        {"app": client, "secret": secret, "created": False, **integration(console, client)},
    )
