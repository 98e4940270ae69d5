"""Setting up or removing the authenticator app on the account page: plain CSRF-checked forms,
removal only with a code from the factor itself."""

from __future__ import annotations

import math
from html import escape

import segno
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway.account import recovery_codes
from gateway.account.navigation import navigation
from gateway.account.pages import account_form
from gateway.endpoints.authorize import Transaction, error_page, save_transaction
from gateway.identity.rate_limits import OTP_CODES, hit, reset, retry_after
from gateway.identity.sessions import SsoSession
from gateway.pages.render import messages, page
from gateway.pages.second_factor import current_session, locale_for
from gateway.server.services import Services
from store import kv_keys
from store.records import AuditEvent

ACCOUNT_OTP_PATH = "/account/otp"


def qr_svg(uri: str, label: str) -> str:
    """The otpauth URI as an inline SVG QR code (no script, no data: URL: the CSP holds)."""
    svg = segno.make(uri, error="m").svg_inline(scale=4, border=2, dark="#000", light="#fff")
    return svg.replace("<svg ", f'<svg role="img" aria-label="{escape(label)}" ', 1)


async def account_otp_page(request: Request) -> Response:
    """Set up an authenticator app: a new secret to scan or type, confirmed by one code."""
    services: Services = request.app.state.services
    session = await current_session(request)
    if session is None:
        browser, new_browser = services.csrf.browser_id(request)
        tx_id = await save_transaction(
            services, Transaction(params={}, browser=browser, return_to=ACCOUNT_OTP_PATH)
        )
        response = RedirectResponse(f"/login?tx={tx_id}", status_code=303)
        if new_browser:
            services.csrf.set_cookie(response, browser)
        return response
    return await _enrolment_page(request, session, None)


async def _enrolment_page(
    request: Request, session: SsoSession, error: str | None, status: int = 200
) -> Response:
    services: Services = request.app.state.services
    browser, new_browser = services.csrf.browser_id(request)
    enrolled = await services.otp.enrolled(session.account_id)
    secret = uri = None
    if not enrolled:
        account = await services.accounts.get(session.account_id)
        started = await services.otp.begin(
            session.account_id, account.username if account else session.account_id
        )
        if started is not None:
            secret, uri = started
    locale = locale_for(request, request.query_params.get("ui_locales"))
    t = messages(locale)
    response = page(
        request,
        "account_otp.html",
        locale,
        {
            "enrolled": enrolled,
            "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
            if secret
            else None,
            "uri": uri,
            "qr_svg": qr_svg(uri, t.otp_qr_label) if uri else None,
            "nav": navigation(ACCOUNT_OTP_PATH),
            "csrf_token": services.csrf.token(browser, "account-otp"),
            "action": ACCOUNT_OTP_PATH,
            "error": error,
        },
        status=status,
    )
    response.headers["Cache-Control"] = "no-store"
    if new_browser:
        services.csrf.set_cookie(response, browser)
    return response


async def account_otp_submit(request: Request) -> Response:
    services: Services = request.app.state.services
    posted = await account_form(request, "account-otp")
    if posted is None:
        return error_page(request, {}, "expired")
    form, session = posted
    t = messages(locale_for(request))
    counter = kv_keys.otp_failures(session.account_id)
    if not OTP_CODES.allows(await hit(services.expiring, counter, OTP_CODES)):
        left = await retry_after(services.expiring, counter, OTP_CODES)
        return await _enrolment_page(
            request, session, t.locked.format(minutes=math.ceil(left / 60)), status=429
        )
    action = form.get("action")
    enrolled = await services.otp.enrolled(session.account_id)
    code = form.get("code", "")
    if action == "remove" and enrolled:
        # Removing the factor needs a code from it: a stolen session alone cannot.
        if not await services.otp.verify(session.account_id, code):
            return await _enrolment_page(request, session, t.otp_wrong, status=400)
        await services.otp.remove(session.account_id)
        await services.recovery_codes.remove(session.account_id)  # they stood in for the app
        event = "account.otp_removed"
    elif action == "confirm" and not enrolled:
        if not await services.otp.verify(session.account_id, code, confirming=True):
            return await _enrolment_page(request, session, t.otp_wrong, status=400)
        event = "account.otp_enrolled"
    else:
        return error_page(request, {}, "expired")
    await reset(services.expiring, counter)
    await services.audit.record(
        AuditEvent(event, actor=session.account_id, target=session.account_id), request=request
    )
    if event == "account.otp_enrolled":
        return await recovery_codes.new_codes(request, session, "enrolment")  # shown once
    return RedirectResponse(ACCOUNT_OTP_PATH, status_code=303)
