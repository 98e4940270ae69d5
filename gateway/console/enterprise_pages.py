"""法人: enterprises (legal person accounts), the people who act for them (representative,
administrators, staff) and their delegations, through the very rules of the enterprise API
(``gateway/account/enterprise.py``): a city administrator names and revokes them."""

from __future__ import annotations

from datetime import datetime

from starlette.responses import RedirectResponse, Response

from gateway.account.enterprise import (
    Appointment,
    city_administrator,
    is_enterprise,
    well_formed_id,
)
from gateway.admin import people
from gateway.admin.http import validated
from gateway.console.context import Console, view
from gateway.console.people_pages import when
from gateway.console.role_pages import account_named, expiry
from gateway.identity.delegations import NotAllowed
from gateway.identity.errors import InvalidInput
from gateway.server.responses import Clash, Forbidden, Invalid, Missing
from store.records import Account

PAGE = 50
POSITIONS = ("representative", "administrator", "staff")


@view("list_accounts")
async def enterprises(console: Console) -> Response:
    """The enterprises in reach, as ``GET /accounts?kind=legal_person``."""
    q = console.request.query_params.get("q", "").strip()[:64]
    filters = {"kind": "legal_person", **({"username": q.lower()} if q else {})}
    found, total = await people.list_accounts(console.services, console.reach(), 0, PAGE, **filters)
    return console.page("console_enterprises.html", {"q": q, "enterprises": found, "total": total})


async def _enterprise(console: Console) -> Account:
    """The enterprise on the path, for a city administrator only (the enterprise API's rule)."""
    admin = console.admin
    if not await city_administrator(
        console.services, admin.account_id, sorted(admin.token_scopes), admin_app=True
    ):
        raise Forbidden("Only city-wide administrators manage enterprises' delegations.")
    org_id = console.request.path_params["org_id"]
    enterprise = await console.services.accounts.get(org_id) if well_formed_id(org_id) else None
    if enterprise is None or not await is_enterprise(console.services, org_id):
        raise Missing("No such enterprise.")
    return enterprise


@view("enterprise_delegations")
async def enterprise(console: Console) -> Response:
    found = await _enterprise(console)
    now = console.services.clock.now()
    rows = []
    for d in await console.services.delegations.of_organisation(found.id):
        member = await console.services.accounts.get(d.member_id)
        rows.append(
            {
                "id": d.id,
                "member_id": d.member_id,
                "username": member.username if member else d.member_id,
                "position": d.position,
                "roles": d.roles,
                "expires": when(d.expires_at) if d.expires_at else "",
                "active": d.active(now),
            }
        )
    return console.page(
        "console_enterprise.html",
        {
            "enterprise": found,
            "delegations": rows,
            "positions": POSITIONS,
            "done": console.request.query_params.get("done"),
        },
    )


async def _member(console: Console, name: str) -> Account:
    member_id = await account_named(console, name) if name else ""
    member = await console.services.accounts.get(member_id) if well_formed_id(member_id) else None
    if member is None:
        raise Missing("No such member account.")
    return member


@view("enterprise_appoint")
async def appoint(console: Console) -> Response:
    enterprise = await _enterprise(console)
    form = console.form
    member = await _member(console, form.get("member", "").strip()[:64])
    expires = expiry(form.get("expires"))
    wanted = validated(
        Appointment,
        {
            "member": member.id,
            "position": form.get("position", ""),
            "roles": [r.strip() for r in form.get("roles", "").split(",") if r.strip()],
            "expires_at": None,
        },
        "body",
    )
    try:
        await console.services.delegations.appoint(
            enterprise,
            member,
            wanted.position,
            wanted.roles,
            _epoch(expires),
            actor=console.admin.account_id,
            actor_position=None,
            request=console.request,
        )
    except NotAllowed as error:
        raise Forbidden(str(error)) from error
    except InvalidInput as error:
        raise Invalid.field(["body", error.field], error.reason) from error
    return RedirectResponse(f"/admin/enterprises/{enterprise.id}?done=appointed", status_code=303)


def _epoch(value: str | None) -> float | None:
    return datetime.fromisoformat(value).timestamp() if value else None


@view("enterprise_revoke")
async def revoke(console: Console) -> Response:
    enterprise = await _enterprise(console)
    delegation_id = console.request.path_params["delegation_id"]
    found = (
        await console.services.delegations.get(delegation_id)
        if well_formed_id(delegation_id)
        else None
    )
    if found is None or found.organisation_id != enterprise.id:
        raise Missing("No such delegation in this enterprise.")
    try:
        await console.services.delegations.revoke(
            delegation_id, console.admin.account_id, None, request=console.request
        )
    except NotAllowed as error:
        raise Forbidden(str(error)) from error
    except InvalidInput as error:
        raise Clash(error.reason) from error
    return RedirectResponse(f"/admin/enterprises/{enterprise.id}?done=revoked", status_code=303)
