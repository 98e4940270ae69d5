"""The account pages' door: the signed-in person, or a way to sign in that comes back here; the
check that a sign-in is recent enough for a change of credentials; the page's language."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway.endpoints.authorize import Transaction, save_transaction
from gateway.identity.sessions import SsoSession
from gateway.pages.render import request_locale
from gateway.pages.second_factor import current_session
from gateway.server.services import Services

RECENT_SIGN_IN = 600.0  # seconds: a session left open on a shared computer cannot change these


def locale(request: Request) -> str:
    return request_locale(request)


def recent(services: Services, session: SsoSession) -> bool:
    return services.clock.now() - session.auth_time <= RECENT_SIGN_IN


async def signed_in(request: Request, return_to: str) -> SsoSession | Response:
    """The person's session, or a redirect to the sign-in page that returns to ``return_to``."""
    session = await current_session(request)
    if session is not None:
        return session
    return await sign_in_first(request, return_to)


async def sign_in_first(request: Request, return_to: str) -> Response:
    """To the sign-in page, and back to ``return_to`` afterwards."""
    services: Services = request.app.state.services
    browser, new_browser = services.csrf.browser_id(request)
    tx_id = await save_transaction(
        services, Transaction(params={}, browser=browser, return_to=return_to)
    )
    response = RedirectResponse(f"/login?tx={tx_id}", status_code=303)
    if new_browser:
        services.csrf.set_cookie(response, browser)
    return response
