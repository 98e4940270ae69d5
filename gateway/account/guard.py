"""The account pages' door: the signed-in person, or a way to sign in that comes back here."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway.endpoints.authorize import Transaction, save_transaction
from gateway.identity.sessions import SsoSession
from gateway.pages.second_factor import current_session
from gateway.server.services import Services


async def signed_in(request: Request, return_to: str) -> SsoSession | Response:
    """The person's session, or a redirect to the sign-in page that returns to ``return_to``."""
    session = await current_session(request)
    if session is not None:
        return session
    services: Services = request.app.state.services
    browser, new_browser = services.csrf.browser_id(request)
    tx_id = await save_transaction(
        services, Transaction(params={}, browser=browser, return_to=return_to)
    )
    response = RedirectResponse(f"/login?tx={tx_id}", status_code=303)
    if new_browser:
        services.csrf.set_cookie(response, browser)
    return response
