"""应用: the apps an administrator reaches, the onboarding of a new one (name, owning
department, redirect URIs → its secret shown once → an integration page a department's
developer can follow), and secret rotation, through the admin API's own service
(``gateway/admin/apps.py``)."""

from __future__ import annotations

from starlette.responses import RedirectResponse, Response

from gateway.admin import apps, lifecycle
from gateway.admin.etags import etag_of
from gateway.admin.http import validated
from gateway.admin.models import ClientCreate
from gateway.admin.models_ops import ClientStateChange
from gateway.console.app_claims import app_roles, summary
from gateway.console.app_subjects import subject_values
from gateway.console.context import Console, view
from gateway.console.paging import offset_of, pager
from gateway.endpoints.discovery import DISCOVERY_PATH
from policies.app_lifecycle import DRAFT, next_states
from store.records import Client

PAGE = 50


@view("list_clients")
async def app_list(console: Console) -> Response:
    q = console.request.query_params.get("q", "").strip()[:200]
    offset = offset_of(console.request)
    found, total = await apps.list_clients(
        console.services, console.reach(), offset, PAGE, name=q or None
    )
    return console.page(
        "console_apps.html",
        {"q": q, "apps": found, **pager(offset, total, PAGE, q=q)},
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
            # Set up first (policy, integration), put live on its page when ready.
            "state": DRAFT,
            **subject_values(form),
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
    services, reach = console.services, console.reach()
    client = await apps.get_client(services, reach, console.request.path_params["client_id"])
    policy = await apps.get_policy(services, reach, client.client_id)
    return console.page(
        "console_app.html",
        {
            "app": client,
            "version": etag_of(client),
            "roles": await app_roles(console, client.client_id),
            **summary(client, apps.document_of(policy)),
            "next_states": next_states(client.state),
            "done": console.request.query_params.get("done"),
            **integration(console, client),
        },
    )


@view("set_client_state")
async def set_state(console: Console) -> Response:
    client_id = console.request.path_params["client_id"]
    body = validated(ClientStateChange, {"state": console.form.get("state", "")}, "body")
    await lifecycle.set_state(
        console.services,
        console.actor,
        console.writer,
        client_id,
        body.state,
        console.precondition(),
    )
    return RedirectResponse(f"/admin/apps/{client_id}?done=state_{body.state}", status_code=303)


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
