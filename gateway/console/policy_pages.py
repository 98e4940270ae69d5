"""应用 → 访问策略: who may use an app (departments, roles, groups, account kinds, minimum
level, MFA), the very document the admin API's ``PUT /clients/{id}/policy`` takes, and a "who
would be let in" preview of a draft for one account, decided by ``policies/access.py`` through
the gateway's own access service (``AccessService.decide``)."""

from __future__ import annotations

from typing import Any

from starlette.responses import RedirectResponse, Response

from gateway.admin import apps, people
from gateway.admin.etags import etag_of
from gateway.admin.http import validated
from gateway.admin.policy_names import check_names
from gateway.console.context import Console, view
from gateway.console.role_pages import account_named
from gateway.identity.client_policy import PolicyDocument
from gateway.server.responses import Invalid
from policies.access import ACCOUNT_KINDS
from store.records import Account

LEVELS = ("L1", "L2", "L3")
PASSWORD = ["pwd"]  # the preview's sign-in: a password, at the account's own level


def _names(value: str) -> list[str]:
    """One name a line (commas and spaces also separate), duplicates dropped, order kept."""
    parts = value.replace(",", "\n").replace("，", "\n").split()
    return list(dict.fromkeys(part.strip() for part in parts if part.strip()))[:200]


def _draft(console: Console, stored: PolicyDocument) -> PolicyDocument:
    """The form as a policy document; what the form does not edit (claims) is kept as read."""
    form = console.form
    kinds = [kind for kind in sorted(ACCOUNT_KINDS) if form.get(f"kind_{kind}") == "on"]
    return validated(
        PolicyDocument,
        {
            "kinds": kinds,
            "departments": _names(form.get("departments", "")),
            "roles": _names(form.get("roles", "")),
            "groups": _names(form.get("groups", "")),
            "min_acr": form.get("min_acr", "L1"),
            "mfa": form.get("mfa") == "on",
            "act_for": form.get("act_for") == "on",
            "new_place_second_factor": form.get("new_place_second_factor") == "on",
            "claims": stored.claims.model_dump(mode="json"),
        },
        "body",
    )


def _editor(console: Console, client_id: str, **context: Any) -> Response:
    return console.page(
        "console_policy.html",
        {
            "client_id": client_id,
            "kinds": sorted(ACCOUNT_KINDS),
            "levels": LEVELS,
            "done": console.request.query_params.get("done"),
            **context,
        },
    )


@view("get_policy")
async def policy_page(console: Console) -> Response:
    client_id = console.request.path_params["client_id"]
    client = await apps.get_client(console.services, console.reach(), client_id)
    policy = await apps.get_policy(console.services, console.reach(), client_id)
    return _editor(
        console,
        client_id,
        app=client,
        document=apps.document_of(policy),
        version=etag_of(policy),
        account="",
        verdict=None,
    )


@view("put_policy")
async def save(console: Console) -> Response:
    writer = console.writer
    client_id = console.request.path_params["client_id"]
    stored = await apps.get_policy(console.services, writer, client_id)
    document = _draft(console, apps.document_of(stored))
    await apps.put_policy(
        console.services, console.actor, writer, client_id, document, console.precondition()
    )
    return RedirectResponse(f"/admin/apps/{client_id}/policy?done=policy_saved", status_code=303)


async def _account_named(console: Console, name: str) -> Account:
    """An account by username or id, inside the reach (404 otherwise, as the API answers)."""
    account_id = await account_named(console, name)
    return await people.get_account(console.services, console.reach(), account_id)


@view("get_policy")
async def preview(console: Console) -> Response:
    """What the draft would decide for the account signing in with a password now; nothing
    is saved. The draft names only what a save would accept (the same check, the same 422)."""
    services, reach = console.services, console.reach()
    client_id = console.request.path_params["client_id"]
    client = await apps.get_client(services, reach, client_id)
    stored = await apps.get_policy(services, reach, client_id)
    document = _draft(console, apps.document_of(stored))
    async with services.database.sessions() as session:
        await check_names(session, reach, client_id, document)
    name = console.form.get("account", "").strip()[:64]
    if not name:
        raise Invalid.field(["body", "account"], "name the account to preview")
    account = await _account_named(console, name)
    verdict = await services.access.decide(
        account, client_id, account.assurance, PASSWORD, document=document
    )
    return _editor(
        console,
        client_id,
        app=client,
        document=document,
        version=console.form.get("version", ""),
        account=name,
        preview_account=account,
        verdict=verdict,
    )
