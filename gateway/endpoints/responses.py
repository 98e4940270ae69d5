"""How the authorization endpoint answers: an error page when the client cannot be trusted
with a redirect, otherwise the redirect URI by the requested response mode."""

from __future__ import annotations

import secrets
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from authlib.oauth2.rfc6749 import OAuth2Error
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway.oauth.models import RESPONSE_MODES
from gateway.pages.render import messages, page, request_locale
from gateway.server.responses import oauth_error_fields
from gateway.server.services import Services


def error_page(
    request: Request, params: dict[str, str], message_key: str, detail: str = ""
) -> Response:
    """A page for the user: used when the client cannot be trusted with a redirect."""
    locale = request_locale(request, params.get("ui_locales"))
    message = messages(locale)[message_key].format(detail=detail)
    return page(request, "error.html", locale, {"message": message, "code": None}, status=400)


def with_params(uri: str, params: dict[str, str]) -> str:
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


def deliver(
    request: Request,
    redirect_uri: str,
    params: dict[str, str],
    response_mode: str | None,
    frontchannel: list[str] | None = None,
) -> Response:
    """Send an authorization response (success or error) by the requested response mode;
    a browser can post a form only to an http(s) address. A posted form first loads the
    front-channel logout URIs of a session just ended (``frontchannel``)."""
    if response_mode == "form_post" and redirect_uri.startswith(("https://", "http://")):
        nonce = secrets.token_urlsafe(16)
        locale = request_locale(request)
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(redirect_uri))
        context = {
            "action": redirect_uri,
            "fields": list(params.items()),
            "script_nonce": nonce,
            "frontchannel_uris": frontchannel or [],
        }
        return page(
            request, "form_post.html", locale, context, form_action=origin, script_nonce=nonce
        )
    return RedirectResponse(with_params(redirect_uri, params), status_code=303)


def error_fields(services: Services, error: OAuth2Error, params: dict[str, str]) -> dict[str, str]:
    body = oauth_error_fields(error.error, error.description)
    if params.get("state"):
        body["state"] = params["state"]
    body["iss"] = services.settings.issuer
    return body


def redirect_error(request: Request, error: OAuth2Error, params: dict[str, str]) -> Response:
    services: Services = request.app.state.services
    body = error_fields(services, error, params)
    mode = params.get("response_mode")
    return deliver(request, error.redirect_uri, body, mode if mode in RESPONSE_MODES else None)
