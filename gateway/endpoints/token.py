"""The token endpoint (RFC 6749 §3.2): parse, prefetch the client, run Authlib's grant inline."""

from __future__ import annotations

import base64
import re
from urllib.parse import unquote

from authlib.oauth2.rfc6749 import OAuth2Error
from starlette.requests import Request
from starlette.responses import Response

from gateway.endpoints.client_limits import limit_of, refused_for_rate
from gateway.endpoints.end_session import end_sso_session
from gateway.oauth.device_codes import prefetch_device_code, still_waiting
from gateway.oauth.dpop import DPoPError, nonce_headers, token_request_key
from gateway.oauth.models import (
    BASIC_CHALLENGE,
    FormRequest,
    GrantContext,
    OAuthClient,
    grant_context,
)
from gateway.oauth.prefetch import prefetch_grant, release_code
from gateway.oauth.server import AuthorizationServer
from gateway.oauth.targets import token_target
from gateway.oauth.token_exchange import TOKEN_EXCHANGE
from gateway.server.forms import FormError, read_form
from gateway.server.responses import oauth_error
from gateway.server.services import Services
from policies.clients import DEVICE_CODE

# Authenticated before anything is loaded: a request without the client's credentials must
# not spend a code, refresh token or device code, nor learn whether a subject token is active.
AUTHENTICATED_FIRST = ("authorization_code", "refresh_token", DEVICE_CODE, TOKEN_EXCHANGE)
ALL_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class BadClientAuth(Exception):
    pass


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """client_id and secret from an ``Authorization: Basic`` header (RFC 6749 §2.3.1: both are
    form-urlencoded before base64). None when the header is absent or another scheme."""
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except ValueError as error:  # binascii.Error, UnicodeDecodeError, a non-ASCII header
        raise BadClientAuth("The Basic credentials are not valid base64 UTF-8.") from error
    client_id, colon, secret = decoded.partition(":")
    if not colon or not client_id:
        raise BadClientAuth("The Basic credentials need a client_id and a secret.")
    client_id, secret = unquote(client_id), unquote(secret)
    if _CONTROL.search(client_id) or _CONTROL.search(secret):
        raise BadClientAuth("The Basic credentials contain control characters.")
    return client_id, secret


async def token_endpoint(request: Request) -> Response:
    services: Services = request.app.state.services
    try:
        form = await read_form(request, services.settings.max_form_bytes)
    except FormError as error:
        return oauth_error("invalid_request", error.description, error.status)
    try:
        basic = basic_credentials(request.headers.get("authorization"))
    except BadClientAuth as error:
        return oauth_error("invalid_client", str(error), 401, {"WWW-Authenticate": BASIC_CHALLENGE})

    if "grant_type" not in form:
        return oauth_error("invalid_request", "Missing 'grant_type' parameter.")
    if basic is not None:
        if "client_secret" in form:
            return oauth_error(
                "invalid_request",
                "Use one client authentication method, not two (RFC 6749 section 2.3).",
            )
        if form.get("client_id", basic[0]) != basic[0]:
            return oauth_error("invalid_request", "client_id differs from the Basic credentials.")
    client_id = basic[0] if basic else form.get("client_id")

    context = GrantContext()
    if client_id:
        context.clients[client_id] = await services.clients.in_service(client_id)
    token_url = request.app.state.token_url
    try:
        context.dpop_jkt = await token_request_key(
            services, request.headers, context.clients.get(client_id or ""), token_url
        )
    except DPoPError as error:
        return oauth_error(error.error, error.description, 400, nonce_headers(services))
    oauth_request = FormRequest(
        "POST", request.app.state.token_url, form, request.headers, {}, basic
    )
    server = request.app.state.oauth
    try:
        limited = limit_of(services, context.clients.get(client_id or "")) > 0
        response = await _run_grant(services, server, form, oauth_request, context, limited)
    except BaseException:
        # Failed mid-way (a dropped database connection, the expiring store away): nothing
        # was answered, so a code taken but not yet turned into tokens is put back.
        await release_code(services, context)
        raise
    if context.ended_sid:
        # A refresh found the account disabled at its department: the session ends as a
        # sign-out does, every app of it told by its own protocol.
        await end_sso_session(request, context.ended_sid, "upstream account disabled")
    return response


async def _run_grant(
    services: Services,
    server: AuthorizationServer,
    form: dict[str, str],
    oauth_request: FormRequest,
    context: GrantContext,
    limited: bool,
) -> Response:
    scope = grant_context.set(context)
    try:
        authenticated = None
        if form["grant_type"] in AUTHENTICATED_FIRST or "resource" in form or limited:
            # Authenticate before the code or refresh token is taken: a request without the
            # client's credentials must not be able to spend them (nor its client's limit).
            try:
                authenticated = server.authenticate_client(oauth_request, ALL_AUTH_METHODS)
            except OAuth2Error as error:
                return server.handle_error_response(oauth_request, error)
        if limited and authenticated is not None:
            over = await refused_for_rate(services, "token", authenticated.record)
            if over is not None:
                return over
        client_of_request = authenticated.get_client_id() if authenticated else None
        if form["grant_type"] == DEVICE_CODE and form.get("device_code"):
            pace = server.device_pace
            refused = await prefetch_device_code(
                services, pace, form["device_code"], client_of_request, context
            )
            waiting = _still_waiting(services, form, context, authenticated)
            if refused is None and waiting is not None:
                return server.handle_error_response(oauth_request, waiting)
        else:
            refused = await prefetch_grant(services, form, client_of_request, context)
        if refused is None:
            refused = await token_target(services, form, context, client_of_request)
        if refused is not None:
            return refused
        response = server.create_token_response(oauth_request)
    finally:
        grant_context.reset(scope)
    if response.status_code == 200:
        try:
            for write in [*context.writes, *context.finally_writes]:
                await write()
        except OAuth2Error as error:
            return server.handle_error_response(oauth_request, error)
    if context.dpop_jkt:
        response.headers.update(nonce_headers(services))
    return response


def _still_waiting(
    services: Services, form: dict[str, str], context: GrantContext, client: OAuthClient | None
) -> OAuth2Error | None:
    """``authorization_pending`` or ``slow_down`` for a device registered for the grant that
    asks for no resource: what the grant would answer, without running it (the poll's cost)."""
    if client is None or "resource" in form or not client.check_grant_type(DEVICE_CODE):
        return None
    return still_waiting(context, services.clock)
