"""Signing in with a passkey: the form the sign-in page's passkey button posts, which goes on
exactly as a password sign-in does (``gateway/pages/sign_in.py``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from gateway.endpoints.authorize import Transaction, error_page, load_transaction, posted_form
from gateway.identity.passkeys import PasskeyError
from gateway.pages.federated_login import SignIn
from gateway.pages.passkey_button import CSRF_PURPOSE
from gateway.pages.passkey_button import PASSKEY_SIGN_IN_PATH as PASSKEY_SIGN_IN_PATH
from gateway.pages.render import messages
from gateway.pages.sign_in import locale_of, login_form, signed_in
from gateway.server.services import Services
from store.records import AuditEvent


async def passkey_submit(request: Request) -> Response:
    services: Services = request.app.state.services
    posted = await posted_form(request, CSRF_PURPOSE)
    if posted is None:
        return error_page(request, {}, "expired")
    form, tx_id = posted
    tx = await load_transaction(services, request, tx_id)
    if tx is None:
        return error_page(request, {}, "expired")
    try:
        proven = await services.passkeys.authenticate(tx_id, form.get("credential", ""))
    except PasskeyError as error:
        return await _refused(request, tx_id, tx, error.reason)
    account = await services.accounts.get(proven.account_id)
    if account is None or account.disabled:
        return await _refused(request, tx_id, tx, "disabled")
    result = SignIn(account=account, acr=account.assurance, idp_subject=account.id)
    return await signed_in(request, tx_id, tx, result, proven.amr)


async def _refused(request: Request, tx_id: str, tx: Transaction, reason: str) -> Response:
    services: Services = request.app.state.services
    await services.audit.record(
        AuditEvent(
            "login.passkey_failed",
            outcome="failure",
            client_id=tx.params.get("client_id"),
            check=reason,
            details={"reason": reason},
        ),
        request=request,
    )
    error = messages(locale_of(request, tx)).passkey_refused
    return await login_form(request, tx_id, tx, error=error, status=400)
