"""The second step when an app needs multi-factor sign-in: the authenticator app's code, or a
passkey that verifies the person (``passkey_second_factor.py``), whichever the account has.
Plain CSRF-checked forms; the passkey button needs the browser's WebAuthn."""

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
    signed_in_step,
    update_transaction,
)
from gateway.identity.rate_limits import OTP_CODES, hit, reset, retry_after
from gateway.identity.sessions import SsoSession
from gateway.pages.passkey_button import second_factor_offer
from gateway.pages.render import form_action, messages, page, request_locale
from gateway.server.services import Services
from store import kv_keys
from store.records import AuditEvent


def locale_for(request: Request, wanted: str | None = None) -> str:
    return request_locale(request, wanted)


async def current_session(request: Request) -> SsoSession | None:
    services: Services = request.app.state.services
    return await services.sessions.from_cookie(request.cookies.get(services.sessions.cookie_name))


async def second_factor_form(
    request: Request,
    tx_id: str,
    tx: Transaction,
    account_id: str,
    error: str | None,
    status: int = 200,
) -> Response:
    """The page offering the account's second factors; the error page when it has none."""
    services: Services = request.app.state.services
    otp = await services.otp.enrolled(account_id)
    passkey = await second_factor_offer(request, tx_id, tx, account_id)
    if not otp and passkey is None:
        return error_page(request, {}, "expired")
    locale = locale_for(request, tx.params.get("ui_locales"))
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
            "otp": otp,
            "passkey": passkey,
        },
        status=status,
        script_nonce=passkey["nonce"] if passkey else None,
        # The form's redirects end at the app: browsers apply form-action to them too.
        form_action=form_action(*((*client.redirect_uris, *client.service_urls) if client else ())),
    )


async def otp_page(request: Request) -> Response:
    services: Services = request.app.state.services
    tx_id = request.query_params.get("tx", "")
    tx = await load_transaction(services, request, tx_id)
    session = await current_session(request)
    if tx is None or session is None:
        return error_page(request, {}, "expired")
    return await second_factor_form(request, tx_id, tx, session.account_id, None)


async def otp_submit(request: Request) -> Response:
    services: Services = request.app.state.services
    step = await signed_in_step(request, "otp")
    if step is None:
        return error_page(request, {}, "expired")
    form, tx_id, tx, session = step.form, step.tx_id, step.tx, step.session
    locale = locale_for(request, tx.params.get("ui_locales"))
    t = messages(locale)
    counter = kv_keys.otp_failures(session.account_id)
    # Counted before the check, atomically, as passwords are: six digits are quick to guess.
    if not OTP_CODES.allows(await hit(services.expiring, counter, OTP_CODES)):
        left = await retry_after(services.expiring, counter, OTP_CODES)
        minutes = math.ceil(left / 60)
        response = await second_factor_form(
            request, tx_id, tx, session.account_id, t.locked.format(minutes=minutes), status=429
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
        return await second_factor_form(
            request, tx_id, tx, session.account_id, t.otp_wrong, status=400
        )
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
