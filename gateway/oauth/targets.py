"""The resource a token request is for (RFC 8707 §2.2), chosen before Authlib runs: the one
named at the token endpoint, or the one its code was authorized for."""

from __future__ import annotations

from starlette.responses import Response

from gateway.oauth.models import GrantContext
from gateway.server.responses import oauth_error
from gateway.server.services import Services
from policies.resources import may_target

CLIENT_CREDENTIALS = "client_credentials"


def _invalid_target(description: str) -> Response:
    return oauth_error("invalid_target", description)


async def token_target(
    services: Services, form: dict[str, str], context: GrantContext, client_id: str | None
) -> Response | None:
    """Fill ``context.resource`` (and the snapshot the audience of a client's own token is
    chosen from); a response when the resource is refused."""
    requested = form.get("resource")
    authorized = context.code.resource if context.code is not None else None
    if requested is None and authorized is None:
        if form.get("grant_type") == CLIENT_CREDENTIALS:
            context.resources = await services.resources.snapshot()
        return None
    if requested is not None and authorized is not None and requested != authorized:
        return _invalid_target("The resource is not the one the code was authorized for.")
    uri = requested or authorized or ""
    target = (await services.resources.snapshot()).get(uri)
    client = context.clients.get(client_id or "")
    if (
        target is None
        or client is None
        or not may_target(client.client_id, client.scopes, target.allowed_clients, target.scopes)
    ):
        return _invalid_target("The resource is unknown, or not one this client may ask for.")
    context.resource = target
    return None
