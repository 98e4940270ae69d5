"""The device authorization endpoint (RFC 8628 §3.1): a device asks for a device code and a
user code; the person then goes to ``/device`` (``gateway/pages/device_verification.py``)."""

from __future__ import annotations

from authlib.oauth2.rfc6749 import OAuth2Error
from starlette.requests import Request
from starlette.responses import Response

from gateway.endpoints.discovery import DEVICE_AUTHORIZATION_PATH
from gateway.endpoints.token import BadClientAuth, basic_credentials
from gateway.oauth.models import BASIC_CHALLENGE, FormRequest, GrantContext, grant_context
from gateway.server.forms import FormError, read_form
from gateway.server.responses import oauth_error
from gateway.server.services import Services


async def device_authorization_endpoint(request: Request) -> Response:
    services: Services = request.app.state.services
    try:
        form = await read_form(request, services.settings.max_form_bytes)
    except FormError as error:
        return oauth_error("invalid_request", error.description, error.status)
    try:
        basic = basic_credentials(request.headers.get("authorization"))
    except BadClientAuth as error:
        return oauth_error("invalid_client", str(error), 401, {"WWW-Authenticate": BASIC_CHALLENGE})
    if basic is not None and form.get("client_id", basic[0]) != basic[0]:
        return oauth_error("invalid_request", "client_id differs from the Basic credentials.")
    client_id = basic[0] if basic else form.get("client_id")
    context = GrantContext()
    if client_id:
        context.clients[client_id] = await services.clients.in_service(client_id)
    uri = services.settings.issuer + DEVICE_AUTHORIZATION_PATH
    oauth_request = FormRequest("POST", uri, form, request.headers, {}, basic)
    server = request.app.state.oauth
    scope = grant_context.set(context)
    try:
        response = server.create_endpoint_response("device_authorization", oauth_request)
    finally:
        grant_context.reset(scope)
    if response.status_code == 200:
        try:
            for write in context.writes:
                await write()
        except OAuth2Error as error:
            return server.handle_error_response(oauth_request, error)
        response.headers["Cache-Control"] = "no-store"
    return response
