"""A passkey as the second step of a signed-in session (RFC 8176): one of the account's own
passkeys, with the authenticator verifying the person, adds ``hwk`` or ``swk`` and ``user`` to
the session's methods, which then count as multi-factor, as after the authenticator app's code."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway.endpoints.authorize import (
    RESUME_PATH,
    error_page,
    signed_in_step,
    update_transaction,
)
from gateway.identity.passkeys import PasskeyError
from gateway.pages.passkey_button import SECOND_FACTOR_PURPOSE
from gateway.pages.render import messages
from gateway.pages.second_factor import locale_for, second_factor_form
from gateway.server.services import Services
from store.records import AuditEvent


async def passkey_second_factor_submit(request: Request) -> Response:
    services: Services = request.app.state.services
    step = await signed_in_step(request, SECOND_FACTOR_PURPOSE)
    if step is None:
        return error_page(request, {}, "expired")
    form, tx_id, tx, session = step.form, step.tx_id, step.tx, step.session
    client_id = tx.params.get("client_id")
    try:
        proven = await services.passkeys.second_factor(
            session.account_id, tx_id, form.get("credential", "")
        )
    except PasskeyError as error:
        await services.audit.record(
            AuditEvent(
                "login.passkey_second_factor_failed",
                outcome="failure",
                actor=session.account_id,
                client_id=client_id,
                check=error.reason,
                details={"reason": error.reason},
            ),
            request=request,
        )
        t = messages(locale_for(request, tx.params.get("ui_locales")))
        return await second_factor_form(
            request, tx_id, tx, session.account_id, t.passkey_step_refused, status=400
        )
    amr = sorted(set(session.amr) | set(proven.amr))
    cookie = await services.sessions.reauthenticate(
        session, amr, session.acr, session.idp, session.idp_subject
    )
    if cookie is None:
        return error_page(request, {}, "expired")
    await services.audit.record(
        AuditEvent(
            "login.passkey_second_factor",
            actor=session.account_id,
            client_id=client_id,
            details={"amr": amr, "credential": proven.credential_id[:16]},
        ),
        request=request,
    )
    tx.extra["otp_done"] = True
    await update_transaction(services, tx_id, tx)
    response = RedirectResponse(f"{RESUME_PATH}?tx={tx_id}", status_code=303)
    services.sessions.set_cookie(response, cookie)
    return response
