"""The second step with a recovery code instead of the authenticator app's code: each code
works once, wrong ones are counted with the app's (one limit for both ways), and the session
then counts as signed in with two factors, as after the app's code."""

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
from gateway.pages.render import form_action, messages, page
from gateway.pages.second_factor import current_session, locale_for
from gateway.server.services import Services
from store import kv_keys
from store.records import AuditEvent

RECOVERY_CODE_PATH = "/login/otp/recovery"
PURPOSE = "recovery-code"


async def _form(
    request: Request, tx_id: str, tx: Transaction, error: str | None, status: int = 200
) -> Response:
    services: Services = request.app.state.services
    client = await services.clients.get(tx.params.get("client_id", ""))
    return page(
        request,
        "recovery_code.html",
        locale_for(request, tx.params.get("ui_locales")),
        {
            "tx": tx_id,
            "csrf_token": services.csrf.token(tx.browser, f"{PURPOSE}:{tx_id}"),
            "action": RECOVERY_CODE_PATH,
            "otp_path": OTP_PATH,
            "error": error,
        },
        status=status,
        form_action=form_action(*(client.redirect_uris if client else ())),
    )


async def recovery_code_page(request: Request) -> Response:
    services: Services = request.app.state.services
    tx_id = request.query_params.get("tx", "")
    tx = await load_transaction(services, request, tx_id)
    session = await current_session(request)
    if tx is None or session is None or not await services.otp.enrolled(session.account_id):
        return error_page(request, {}, "expired")
    return await _form(request, tx_id, tx, None)


async def recovery_code_submit(request: Request) -> Response:
    services: Services = request.app.state.services
    step = await signed_in_step(request, PURPOSE)
    if step is None:
        return error_page(request, {}, "expired")
    form, tx_id, tx, session = step.form, step.tx_id, step.tx, step.session
    t = messages(locale_for(request, tx.params.get("ui_locales")))
    counter = kv_keys.otp_failures(session.account_id)
    if not OTP_CODES.allows(await hit(services.expiring, counter, OTP_CODES)):
        left = await retry_after(services.expiring, counter, OTP_CODES)
        response = await _form(
            request, tx_id, tx, t.locked.format(minutes=math.ceil(left / 60)), status=429
        )
        response.headers["Retry-After"] = str(left)
        return response
    enrolled = await services.otp.enrolled(session.account_id)
    if not enrolled or not await services.recovery_codes.use(
        session.account_id, form.get("code", "")
    ):
        await services.audit.record(
            AuditEvent(
                "login.recovery_code_failed",
                outcome="failure",
                actor=session.account_id,
                client_id=tx.params.get("client_id"),
            ),
            request=request,
        )
        return await _form(request, tx_id, tx, t.recovery_code_wrong, status=400)
    await reset(services.expiring, counter)
    amr = sorted(set(session.amr) | {"otp"})
    cookie = await services.sessions.reauthenticate(
        session, amr, session.acr, session.idp, session.idp_subject
    )
    if cookie is None:
        return error_page(request, {}, "expired")
    left_codes = await services.recovery_codes.left(session.account_id)
    await services.audit.record(
        AuditEvent(
            "login.recovery_code",
            actor=session.account_id,
            client_id=tx.params.get("client_id"),
            details={"amr": amr, "codes_left": left_codes},
        ),
        request=request,
    )
    tx.extra["otp_done"] = True
    await update_transaction(services, tx_id, tx)
    response = RedirectResponse(f"{RESUME_PATH}?tx={tx_id}", status_code=303)
    services.sessions.set_cookie(response, cookie)
    return response
