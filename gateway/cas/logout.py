"""``/cas/logout`` (CAS 3.0 §2.3): ends the SSO session and so every app's session through
single logout, then goes to ``service`` only when it is a registered CAS service."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from gateway.cas.apps import cas_apps
from gateway.endpoints.end_session import after_logout, end_sso_session
from gateway.pages.render import request_locale
from gateway.server.forms import FormError, parse_params
from gateway.server.services import Services


async def logout_endpoint(request: Request) -> Response:
    services: Services = request.app.state.services
    try:
        params = parse_params(request.url.query)
    except FormError:
        params = {}
    service = params.get("service")
    # §2.3.1: following ``service`` is the server's choice; never to an unregistered one.
    if service and await cas_apps(request).for_service(service) is None:
        service = None
    session = await services.sessions.from_cookie(
        request.cookies.get(services.sessions.cookie_name)
    )
    frontchannel = await end_sso_session(request, session.sid, "cas") if session else []
    locale = request_locale(request)
    return after_logout(request, frontchannel, service, locale)
