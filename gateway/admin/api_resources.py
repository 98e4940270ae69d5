"""Admin API: department APIs registered as resources (RFC 8707)."""

from __future__ import annotations

from gateway.admin import resources
from gateway.admin.auth import READ, WRITE
from gateway.admin.http import Call, Reply, endpoint
from gateway.admin.models_resources import ResourceCreate, ResourceList, ResourceOut, ResourceRef
from gateway.server.responses import Invalid

TAG = "resources"


@endpoint("GET", "/resources", scope=READ, tag=TAG, summary="List resources", out=ResourceList)
async def list_resources(call: Call) -> Reply:
    """Every department API registered as a resource (city-wide administrators)."""
    found = await resources.list_resources(call.services, call.reach)
    items = [ResourceOut(**resources.resource_document(r)) for r in found]
    return Reply(ResourceList(items=items))


@endpoint(
    "POST",
    "/resources",
    scope=WRITE,
    tag=TAG,
    summary="Register a resource",
    out=ResourceOut,
    status=201,
    body=ResourceCreate,
)
async def create_resource(call: Call) -> Reply:
    """Clients may then ask for tokens with ``resource`` set to its audience (RFC 8707)."""
    values = {name: getattr(call.body, name) for name in call.fields}
    values.setdefault("scopes", call.body.scopes)
    values["audience"] = call.body.audience
    created = await resources.create_resource(call.services, call.actor, call.reach, values)
    return Reply(ResourceOut(**resources.resource_document(created)), status=201)


@endpoint(
    "DELETE",
    "/resources",
    scope=WRITE,
    tag=TAG,
    summary="Remove a resource",
    status=204,
    query=ResourceRef,
)
async def delete_resource(call: Call) -> Reply:
    """By its audience (a query parameter: it is a URI). Tokens issued for it stay valid until
    they expire."""
    call.reach.require_city_wide(resources.WHAT)  # who asks is checked before what is asked
    if call.query.audience is None:
        raise Invalid.field(["query", "audience"], "is required")
    await resources.delete_resource(call.services, call.actor, call.reach, call.query.audience)
    return Reply(status=204)
