"""Recovery codes for the authenticator app on the account page: how many are left, and a new
set (shown once; the old set is void), made when the app is set up and on request. A new set
needs a recent sign-in: whoever holds the codes can pass the second step without the app."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from gateway.account.guard import locale, recent, sign_in_first
from gateway.account.pages import account_form
from gateway.endpoints.authorize import error_page
from gateway.identity.sessions import SsoSession
from gateway.pages.render import messages, page
from gateway.pages.second_factor import current_session
from gateway.server.services import Services
from store.records import AuditEvent

RECOVERY_CODES_PATH = "/account/recovery-codes"
PURPOSE = "account-recovery-codes"


async def _page(request: Request, session: SsoSession, codes: list[str] | None = None) -> Response:
    services: Services = request.app.state.services
    browser, new_browser = services.csrf.browser_id(request)
    enrolled = await services.otp.enrolled(session.account_id)
    response = page(
        request,
        "account_recovery_codes.html",
        locale(request),
        {
            "enrolled": enrolled,
            "left": await services.recovery_codes.left(session.account_id) if enrolled else 0,
            "codes": codes,
            "csrf_token": services.csrf.token(browser, PURPOSE),
            "action": RECOVERY_CODES_PATH,
        },
    )
    response.headers["Cache-Control"] = "no-store"
    if new_browser:
        services.csrf.set_cookie(response, browser)
    return response


async def recovery_codes_page(request: Request) -> Response:
    session = await current_session(request)
    if session is None:
        return await sign_in_first(request, RECOVERY_CODES_PATH)
    return await _page(request, session)


async def new_codes(request: Request, session: SsoSession, reason: str) -> Response:
    """A new set for the account, shown once on the answer to this request."""
    services: Services = request.app.state.services
    codes = await services.recovery_codes.generate(session.account_id)
    await services.audit.record(
        AuditEvent(
            "account.recovery_codes_generated",
            actor=session.account_id,
            target=session.account_id,
            details={"count": len(codes), "reason": reason},
        ),
        request=request,
    )
    t = messages(locale(request))
    await services.notices.send(
        session.account_id, "recovery_codes", t.notice_recovery_codes, request
    )
    return await _page(request, session, codes)


async def recovery_codes_submit(request: Request) -> Response:
    services: Services = request.app.state.services
    posted = await account_form(request, PURPOSE)
    if posted is None:
        return error_page(request, {}, "expired")
    _, session = posted
    if not await services.otp.enrolled(session.account_id):
        return await _page(request, session)
    if not recent(services, session):
        return await sign_in_first(request, RECOVERY_CODES_PATH)
    return await new_codes(request, session, "requested")
