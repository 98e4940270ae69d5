"""Client authentication outside the grants (introspection, revocation): the same rules as the
token endpoint, through Authlib's ClientAuthentication."""

from __future__ import annotations

from authlib.oauth2.rfc6749 import OAuth2Error
from starlette.requests import Request
from starlette.responses import Response

from gateway.endpoints.token import BadClientAuth, basic_credentials
from gateway.oauth.models import BASIC_CHALLENGE, FormRequest, GrantContext, grant_context
from gateway.server.responses import oauth_error
from gateway.server.services import Services
from store.records import Client

CONFIDENTIAL_METHODS = ["client_secret_basic", "client_secret_post"]


async def authenticate(
    request: Request, form: dict[str, str], endpoint: str, methods: list[str] | None = None
) -> tuple[Client | None, Response | None]:
    """The authenticated client, or the error response to send."""
    services: Services = request.app.state.services
    try:
        basic = basic_credentials(request.headers.get("authorization"))
    except BadClientAuth as error:
        return None, oauth_error(
            "invalid_client", str(error), 401, {"WWW-Authenticate": BASIC_CHALLENGE}
        )
    if basic is not None and "client_secret" in form:
        return None, oauth_error("invalid_request", "Use one client authentication method.")
    client_id = basic[0] if basic else form.get("client_id")
    context = GrantContext()
    if client_id:
        context.clients[client_id] = await services.clients.in_service(client_id)
    oauth_request = FormRequest("POST", request.scope["path"], form, request.headers, {}, basic)
    server = request.app.state.oauth
    scope = grant_context.set(context)
    try:
        client = server.authenticate_client(
            oauth_request, methods or CONFIDENTIAL_METHODS, endpoint
        )
    except OAuth2Error as error:
        return None, server.handle_error_response(oauth_request, error)
    finally:
        grant_context.reset(scope)
    return client.record, None
