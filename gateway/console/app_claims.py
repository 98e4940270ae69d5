"""应用 → 角色与声明: an app's own roles and what its tokens say about a person. The claims
part of the app's policy document (the global roles it may see, restricted claims approved
city-wide, the names it wants for organisation claims) is edited as ``PUT /clients/{id}/policy``
takes it, at the version it was read at; what the app's scopes and subject type give is shown
as it is."""

from __future__ import annotations

from typing import Any, get_args

from starlette.responses import RedirectResponse, Response

from gateway.admin import apps, roles
from gateway.admin.etags import etag_of
from gateway.admin.http import validated
from gateway.console.context import Console, view
from gateway.identity.claims import SCOPE_CLAIMS, sector_of
from gateway.identity.client_policy import OrganisationClaim, PolicyDocument, RestrictedClaim
from store.records import Client

ORGANISATION_CLAIMS = get_args(OrganisationClaim)
RESTRICTED_CLAIMS = get_args(RestrictedClaim)
ROLES_SHOWN = 200


async def app_roles(console: Console, client_id: str) -> list[dict[str, Any]]:
    found, _ = await roles.list_roles(
        console.services, console.reach(), 0, ROLES_SHOWN, client_id=client_id
    )
    return [{"id": r.id, "name": r.name, "description": r.description} for r in found]


def given_claims(client: Client) -> list[tuple[str, tuple[str, ...]]]:
    """The standard claims each of the app's scopes gives (read-only: set by its scopes)."""
    return [(scope, SCOPE_CLAIMS[scope]) for scope in client.scopes if scope in SCOPE_CLAIMS]


def summary(client: Client, document: PolicyDocument) -> dict[str, Any]:
    return {
        "subject_type": client.subject_type,
        "sector": sector_of(client),
        "given": given_claims(client),
        "claims": document.claims,
    }


@view("get_policy")
async def claims_page(console: Console) -> Response:
    services, reach = console.services, console.reach()
    client_id = console.request.path_params["client_id"]
    client = await apps.get_client(services, reach, client_id)
    policy = await apps.get_policy(services, reach, client_id)
    document = apps.document_of(policy)
    global_roles, _ = await roles.list_roles(services, reach, 0, ROLES_SHOWN, scope="global")
    names = [r.name for r in global_roles]
    names += [n for n in document.claims.global_roles if n not in names]
    return console.page(
        "console_app_claims.html",
        {
            "app": client,
            "version": etag_of(policy),
            "global_roles": names,
            "organisation_claims": ORGANISATION_CLAIMS,
            "restricted_claims": RESTRICTED_CLAIMS,
            "done": console.request.query_params.get("done"),
            **summary(client, document),
        },
    )


def _claims(console: Console) -> dict[str, Any]:
    form = console.form
    rename = {}
    for claim in ORGANISATION_CLAIMS:
        wanted = form.get(f"rename_{claim}", "").strip()
        if wanted:
            rename[claim] = wanted[:64]
    return {
        "global_roles": sorted({k[len("role_") :] for k in form if k.startswith("role_")}),
        "restricted": [c for c in RESTRICTED_CLAIMS if form.get(f"restricted_{c}") == "on"],
        "rename": rename,
    }


@view("put_policy")
async def save_claims(console: Console) -> Response:
    """The claims part from the form; who may use the app is kept as read."""
    writer = console.writer
    client_id = console.request.path_params["client_id"]
    stored = apps.document_of(await apps.get_policy(console.services, writer, client_id))
    document = validated(
        PolicyDocument,
        {**stored.model_dump(mode="json"), "claims": _claims(console)},
        "body",
    )
    await apps.put_policy(
        console.services, console.actor, writer, client_id, document, console.precondition()
    )
    return RedirectResponse(f"/admin/apps/{client_id}/claims?done=claims_saved", status_code=303)
