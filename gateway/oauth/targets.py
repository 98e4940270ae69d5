"""The resource a token request is for (RFC 8707 §2.2), chosen before Authlib runs: the one
named at the token endpoint, or the one its code was authorized for."""

from __future__ import annotations

from starlette.responses import Response

from gateway.oauth.models import GrantContext
from gateway.oauth.token_exchange import TOKEN_EXCHANGE
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
    if form.get("grant_type") == TOKEN_EXCHANGE:
        return await _exchange_target(services, form, context)
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
    if target is None or client is None or not may_target(client.client_id, target.allowed_clients):
        return _invalid_target("The resource is unknown, or not one this client may ask for.")
    context.resource = target
    return None


async def _exchange_target(
    services: Services, form: dict[str, str], context: GrantContext
) -> Response | None:
    """RFC 8693 §2.1: the API by ``resource`` or ``audience`` (one of ours either way); whether
    the client may exchange for it is the grant's check."""
    context.resources = await services.resources.snapshot()
    named = {form[name] for name in ("resource", "audience") if name in form}
    if len(named) > 1:
        return _invalid_target("resource and audience name different APIs.")
    if named:
        context.resource = context.resources.get(named.pop())
        if context.resource is None:
            return _invalid_target("The resource is unknown.")
    return None
