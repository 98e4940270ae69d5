"""Department APIs as resources (RFC 8707): registered, listed and removed by city-wide
administrators only (which client may reach which API is a city-wide decision)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from gateway.admin.changes import Actor, change
from gateway.admin.models import when
from gateway.admin.reach import Reach
from gateway.server.responses import Invalid, Missing
from gateway.server.services import Services
from policies.resources import registration_problem
from store import resources as resource_store
from store.records import Resource

WHAT = "resources (department APIs)"


def resource_document(resource: Resource) -> dict[str, Any]:
    document = asdict(resource)
    for name in ("scopes", "allowed_clients", "exchange_clients"):
        document[name] = list(document[name])
    document["created_at"] = when(resource.created_at)
    document["updated_at"] = when(resource.updated_at)
    return document


async def list_resources(services: Services, reach: Reach) -> list[Resource]:
    reach.require_city_wide(WHAT)
    return await services.resources.list()


async def create_resource(
    services: Services, actor: Actor, reach: Reach, values: dict[str, Any]
) -> Resource:
    reach.require_city_wide(WHAT)
    now = services.clock.now()
    audience = values["audience"]
    resource = Resource(
        audience=audience,
        name=(values.get("name") or audience).strip(),
        scopes=tuple(dict.fromkeys(values["scopes"])),
        access_token_format=values.get("access_token_format") or "jwt",
        allowed_clients=tuple(dict.fromkeys(values.get("allowed_clients") or ())),
        exchange_clients=tuple(dict.fromkeys(values.get("exchange_clients") or ())),
        created_at=now,
        updated_at=now,
    )
    problem = registration_problem(
        resource.audience, resource.name, resource.scopes, resource.access_token_format
    )
    if problem:
        raise Invalid.field(["body", problem[0]], problem[1])
    for field in ("allowed_clients", "exchange_clients"):
        for client_id in getattr(resource, field):
            if await services.clients.get(client_id) is None:
                raise Invalid.field(["body", field], f"no client {client_id!r}")
    async with change(services, actor, "admin.resource.created", audience) as c:
        c.after = await resource_store.insert_resource(c.session, resource)
    services.resources.forget()
    return resource


async def delete_resource(services: Services, actor: Actor, reach: Reach, audience: str) -> None:
    """Tokens already issued for it stay valid until they expire."""
    reach.require_city_wide(WHAT)
    async with change(services, actor, "admin.resource.deleted", audience) as c:
        c.before = await resource_store.get_resource(c.session, audience)
        if c.before is None or not await resource_store.delete_resource(c.session, audience):
            raise Missing("No such resource.")
    services.resources.forget()
