"""The second factor's pages: entering a code when an app needs multi-factor sign-in, and
setting up or removing the authenticator app on the account page. Plain CSRF-checked forms."""

from __future__ import annotations

import math

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway.endpoints.authorize import (
    OTP_PATH,
    RESUME_PATH,
    Transaction,
    error_page,
    load_transaction,
    save_transaction,
    signed_in_step,
    update_transaction,
)
from gateway.identity.rate_limits import OTP_CODES, hit, reset, retry_after
from gateway.identity.sessions import SsoSession
from gateway.pages.render import choose_locale, form_action, messages, page
from gateway.server.forms import FormError, read_form
from gateway.server.services import Services
from store import kv_keys
from store.records import AuditEvent

ACCOUNT_OTP_PATH = "/account/otp"


def _locale(request: Request, wanted: str | None = None) -> str:
    return choose_locale(wanted, request.headers.get("accept-language"))


async def _session(request: Request) -> SsoSession | None:
    services: Services = request.app.state.services
    return await services.sessions.from_cookie(request.cookies.get(services.sessions.cookie_name))


async def _code_form(
    request: Request,
    tx_id: str,
    tx: Transaction,
    locale: str,
    error: str | None,
    status: int = 200,
) -> Response:
    services: Services = request.app.state.services
    client = await services.clients.get(tx.params.get("client_id", ""))
    return page(
        request,
        "otp.html",
        locale,
        {
            "tx": tx_id,
            "csrf_token": services.csrf.token(tx.browser, f"otp:{tx_id}"),
            "action": OTP_PATH,
            "error": error,
        },
        status=status,
        # The form's redirects end at the app: browsers apply form-action to them too.
        form_action=form_action(*(client.redirect_uris if client else ())),
    )


async def otp_page(request: Request) -> Response:
    services: Services = request.app.state.services
    tx_id = request.query_params.get("tx", "")
    tx = await load_transaction(services, request, tx_id)
    session = await _session(request)
    if tx is None or session is None or not await services.otp.enrolled(session.account_id):
        return error_page(request, {}, "expired")
    return await _code_form(request, tx_id, tx, _locale(request, tx.params.get("ui_locales")), None)


async def otp_submit(request: Request) -> Response:
    services: Services = request.app.state.services
    step = await signed_in_step(request, "otp")
    if step is None:
        return error_page(request, {}, "expired")
    form, tx_id, tx, session = step.form, step.tx_id, step.tx, step.session
    locale = _locale(request, tx.params.get("ui_locales"))
    t = messages(locale)
    counter = kv_keys.otp_failures(session.account_id)
    # Counted before the check, atomically, as passwords are: six digits are quick to guess.
    if not OTP_CODES.allows(await hit(services.expiring, counter, OTP_CODES)):
        left = await retry_after(services.expiring, counter, OTP_CODES)
        minutes = math.ceil(left / 60)
        response = await _code_form(
            request, tx_id, tx, locale, t.locked.format(minutes=minutes), status=429
        )
        response.headers["Retry-After"] = str(left)
        return response
    if not await services.otp.verify(session.account_id, form.get("code", "")):
        await services.audit.record(
            AuditEvent(
                "login.otp_failed",
                outcome="failure",
                actor=session.account_id,
                client_id=tx.params.get("client_id"),
            ),
            request=request,
        )
        return await _code_form(request, tx_id, tx, locale, t.otp_wrong, status=400)
    await reset(services.expiring, counter)
    amr = sorted(set(session.amr) | {"otp"})
    cookie = await services.sessions.reauthenticate(
        session, amr, session.acr, session.idp, session.idp_subject
    )
    if cookie is None:
        return error_page(request, {}, "expired")
    await services.audit.record(
        AuditEvent(
            "login.otp",
            actor=session.account_id,
            client_id=tx.params.get("client_id"),
            details={"amr": amr},
        ),
        request=request,
    )
    tx.extra["otp_done"] = True
    await update_transaction(services, tx_id, tx)
    response = RedirectResponse(f"{RESUME_PATH}?tx={tx_id}", status_code=303)
    services.sessions.set_cookie(response, cookie)
    return response


async def account_otp_page(request: Request) -> Response:
    """Set up an authenticator app: a new secret to scan or type, confirmed by one code."""
    services: Services = request.app.state.services
    session = await _session(request)
    if session is None:
        browser, new_browser = services.csrf.browser_id(request)
        tx_id = await save_transaction(
            services, Transaction(params={}, browser=browser, return_to=ACCOUNT_OTP_PATH)
        )
        response = RedirectResponse(f"/login?tx={tx_id}", status_code=303)
        if new_browser:
            services.csrf.set_cookie(response, browser)
        return response
    return await _account_form(request, session, None)


async def _account_form(
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
    response = page(
        request,
        "account_otp.html",
        _locale(request, request.query_params.get("ui_locales")),
        {
            "enrolled": enrolled,
            "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
            if secret
            else None,
            "uri": uri,
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
    session = await _session(request)
    try:
        form = await read_form(request, services.settings.max_form_bytes)
    except FormError:
        return error_page(request, {}, "expired")
    if session is None or not services.csrf.valid(request, form.get("csrf_token"), "account-otp"):
        return error_page(request, {}, "expired")
    t = messages(_locale(request))
    counter = kv_keys.otp_failures(session.account_id)
    if not OTP_CODES.allows(await hit(services.expiring, counter, OTP_CODES)):
        left = await retry_after(services.expiring, counter, OTP_CODES)
        return await _account_form(
            request, session, t.locked.format(minutes=math.ceil(left / 60)), status=429
        )
    action = form.get("action")
    enrolled = await services.otp.enrolled(session.account_id)
    code = form.get("code", "")
    if action == "remove" and enrolled:
        # Removing the factor needs a code from it: a stolen session alone cannot.
        if not await services.otp.verify(session.account_id, code):
            return await _account_form(request, session, t.otp_wrong, status=400)
        await services.otp.remove(session.account_id)
        event = "account.otp_removed"
    elif action == "confirm" and not enrolled:
        if not await services.otp.verify(session.account_id, code, confirming=True):
            return await _account_form(request, session, t.otp_wrong, status=400)
        event = "account.otp_enrolled"
    else:
        return error_page(request, {}, "expired")
    await reset(services.expiring, counter)
    await services.audit.record(
        AuditEvent(event, actor=session.account_id, target=session.account_id), request=request
    )
    return RedirectResponse(ACCOUNT_OTP_PATH, status_code=303)
