"""Enterprise delegation over HTTP, for the people who run it: an enterprise's legal
representative appoints administrators and staff (经办人), administrators appoint staff, and a
city administrator (``admin:write`` city-wide, from an app designated for administration) names
the representative. Authenticated with the caller's own 一号通 access token; answers are JSON,
errors RFC 9457 problems.

    GET    /account/api/v1/enterprises/{org}/delegations
    POST   /account/api/v1/enterprises/{org}/delegations  (member, position, roles, expires_at)
    DELETE /account/api/v1/enterprises/{org}/delegations/{id}
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from gateway.identity.access import ENTERPRISE_SCOPE
from gateway.identity.claims import sector_of
from gateway.identity.delegations import NotAllowed
from gateway.identity.errors import InvalidInput
from gateway.oauth.access_tokens import active_access_token
from gateway.server.forms import FormError
from gateway.server.json_body import read_json_body
from gateway.server.responses import (
    Clash,
    Forbidden,
    Invalid,
    Malformed,
    Missing,
    TooLarge,
    Unauthenticated,
    UnsupportedMedia,
)
from gateway.server.services import Services

PREFIX = "/account/api/v1/enterprises"
SCOPE = ENTERPRISE_SCOPE  # a client must be registered for it (city-wide), and ask for it
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class Appointment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    member: str = Field(description="The person account appointed.")
    position: str = Field(pattern="^(representative|administrator|staff)$")
    roles: list[str] = Field(default_factory=list, max_length=50)
    expires_at: float | None = Field(
        None,
        gt=0,
        le=253402300799,  # the last second of 9999: what the database can store
        allow_inf_nan=False,
        description="Epoch seconds; none: until revoked.",
    )


def well_formed_id(value: str) -> bool:
    """Account and delegation ids are UUIDs; anything else (a NUL, a path) is simply unknown."""
    return _UUID.fullmatch(value) is not None


async def _caller(
    request: Request, services: Services, org_id: str
) -> tuple[str, str | None] | Response:
    """(account id, position in the enterprise; None for a city administrator) of the caller."""
    if not well_formed_id(org_id):
        return Missing("no such enterprise among those you manage").response()
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    claims = (
        await active_access_token(services, token.strip()) if scheme.lower() == "bearer" else None
    )
    if claims is None:
        return Unauthenticated("a valid access token is needed").response()
    client = await services.clients.get(str(claims.get("client_id")))
    if client is None:
        return Unauthenticated("a valid access token is needed").response()
    account_id: str | None = str(claims["sub"])
    if client.subject_type == "pairwise":  # the gateway alone maps a pairwise sub back
        account_id = await services.subjects.account_of(sector_of(client), str(claims["sub"]))
    account = await services.accounts.get(account_id) if account_id else None
    if account is None or account.disabled:
        return Unauthenticated("a valid access token is needed").response()
    account_id = account.id
    scopes = str(claims.get("scope", "")).split()
    if await city_administrator(services, account_id, scopes, client.admin_console):
        if not await is_enterprise(services, org_id):
            return Missing("no such enterprise").response()
        return account_id, None
    if SCOPE not in scopes or SCOPE not in client.scopes:
        # Not any app's token: only one issued for managing enterprises, to an app that
        # still holds the scope (RFC 6750 §3.1).
        return Forbidden(f"the token lacks the {SCOPE} scope", scope=SCOPE).response()
    own = await services.delegations.active(account_id, org_id)
    if own is None or own.position == "staff":
        # Staff and strangers learn nothing about the enterprise's people.
        return Missing("no such enterprise among those you manage").response()
    return account_id, own.position


async def city_administrator(
    services: Services, account_id: str, scopes: list[str], admin_app: bool
) -> bool:
    """Whether a token acts as a city administrator here: ``admin:write`` held city-wide, in
    a token of an app designated for administration."""
    if "admin:write" not in scopes or not admin_app:
        return False
    held = await services.access.admin_scopes(account_id)
    return "" in held.get("admin:write", [])


async def is_enterprise(services: Services, org_id: str) -> bool:
    organisation = await services.accounts.get(org_id)
    return organisation is not None and organisation.kind == "legal_person"


def _view(delegation: Any) -> dict[str, Any]:
    data = asdict(delegation)
    data["roles"] = list(delegation.roles)
    return data


async def delegations(request: Request) -> Response:
    services: Services = request.app.state.services
    org_id = request.path_params["org"]
    caller = await _caller(request, services, org_id)
    if isinstance(caller, Response):
        return caller
    actor, position = caller
    if request.method == "GET":
        found = await services.delegations.of_organisation(org_id)
        return Response(
            json.dumps({"items": [_view(d) for d in found]}, ensure_ascii=False),
            media_type="application/json",
            headers={"Cache-Control": "no-store"},
        )
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json":
        return UnsupportedMedia("send the appointment as application/json").response()
    try:
        body = await read_json_body(request, services.settings.max_form_bytes)
    except FormError as error:
        return (TooLarge if error.status == 413 else Malformed)(error.description).response()
    try:
        wanted = Appointment.model_validate_json(body)
    except ValidationError as error:
        return Invalid.of(error).response()
    organisation = await services.accounts.get(org_id)
    member = await services.accounts.get(wanted.member)
    if organisation is None or member is None:
        return Missing("no such enterprise or member account").response()
    try:
        saved = await services.delegations.appoint(
            organisation,
            member,
            wanted.position,
            wanted.roles,
            wanted.expires_at,
            actor=actor,
            actor_position=position,
            request=request,
        )
    except NotAllowed as error:
        return Forbidden(str(error)).response()
    except InvalidInput as error:
        return Invalid.field([error.field], error.reason).response()
    return Response(
        json.dumps(_view(saved), ensure_ascii=False),
        status_code=201,
        media_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


async def revoke(request: Request) -> Response:
    services: Services = request.app.state.services
    org_id = request.path_params["org"]
    caller = await _caller(request, services, org_id)
    if isinstance(caller, Response):
        return caller
    actor, position = caller
    delegation_id = request.path_params["delegation"]
    found = await services.delegations.get(delegation_id) if well_formed_id(delegation_id) else None
    if found is None or found.organisation_id != org_id:
        return Missing("no such delegation in this enterprise").response()
    try:
        await services.delegations.revoke(delegation_id, actor, position, request=request)
    except NotAllowed as error:
        return Forbidden(str(error)).response()
    except InvalidInput as error:
        return Clash(error.reason).response()
    return Response(status_code=204)
