"""The person's passkeys page: list, add (WebAuthn registration), rename and remove.

Adding or removing needs a sign-in of the last few minutes, so a session left open on a shared
computer cannot plant a passkey of its own. Every form is CSRF-checked; every change audited."""

from __future__ import annotations

import secrets

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway.account.navigation import navigation
from gateway.account.pages import account_form
from gateway.endpoints.authorize import Transaction, error_page, save_transaction
from gateway.identity.passkeys import PasskeyError
from gateway.identity.sessions import SsoSession
from gateway.pages.passkey_button import embeddable
from gateway.pages.render import local_time, messages, page, request_locale
from gateway.pages.second_factor import current_session
from gateway.server.services import Services
from store.records import AuditEvent

PASSKEYS_PATH = "/account/passkeys"
RECENT_SIGN_IN = 600.0  # seconds since the last password (or passkey) was given
CSRF_PURPOSE = "account-passkeys"


def _recent(services: Services, session: SsoSession) -> bool:
    return services.clock.now() - session.auth_time <= RECENT_SIGN_IN


async def _sign_in_first(request: Request) -> Response:
    """To the sign-in page, and back here afterwards."""
    services: Services = request.app.state.services
    browser, new_browser = services.csrf.browser_id(request)
    tx_id = await save_transaction(
        services, Transaction(params={}, browser=browser, return_to=PASSKEYS_PATH)
    )
    response = RedirectResponse(f"/login?tx={tx_id}", status_code=303)
    if new_browser:
        services.csrf.set_cookie(response, browser)
    return response


async def passkeys_page(request: Request) -> Response:
    session = await current_session(request)
    if session is None or request.query_params.get("reauth") == "1":
        return await _sign_in_first(request)
    return await _passkeys_form(request, session, None)


async def _passkeys_form(
    request: Request, session: SsoSession, error: str | None, status: int = 200
) -> Response:
    services: Services = request.app.state.services
    browser, new_browser = services.csrf.browser_id(request)
    locale = request_locale(request)
    options = None
    if _recent(services, session):
        account = await services.accounts.get(session.account_id)
        name = account.username if account else session.account_id
        display = (account.name if account else None) or name
        options = embeddable(
            await services.passkeys.registration_options(
                session.account_id, name, display, session.sid
            )
        )
    nonce = secrets.token_urlsafe(16)
    passkeys = [
        {
            "id": p.credential_id,
            "name": p.name,
            "created": local_time(p.created_at, services.settings.time_zone),
            "used": local_time(p.last_used_at, services.settings.time_zone),
        }
        for p in await services.passkeys.of_account(session.account_id)
    ]
    response = page(
        request,
        "account_passkeys.html",
        locale,
        {
            "passkeys": passkeys,
            "nav": navigation(PASSKEYS_PATH),
            "options": options,
            "nonce": nonce,
            "csrf_token": services.csrf.token(browser, CSRF_PURPOSE),
            "action": PASSKEYS_PATH,
            "reauth": f"{PASSKEYS_PATH}?reauth=1",
            "error": error,
        },
        status=status,
        script_nonce=nonce if options else None,
    )
    if new_browser:
        services.csrf.set_cookie(response, browser)
    return response


async def passkeys_submit(request: Request) -> Response:
    services: Services = request.app.state.services
    posted = await account_form(request, CSRF_PURPOSE)
    if posted is None:
        return error_page(request, {}, "expired")
    form, session = posted
    action = form.get("action")
    credential_id = form.get("credential_id", "")
    if action in ("add", "remove") and not _recent(services, session):
        return await _sign_in_first(request)
    details: dict[str, object] = {}
    if action == "add":
        try:
            added = await services.passkeys.register(
                session.account_id, session.sid, form.get("credential", ""), form.get("name", "")
            )
        except PasskeyError as refused:
            await _audit(
                request,
                session,
                "account.passkey_add_failed",
                {"reason": refused.reason},
                "failure",
            )
            t = messages(request_locale(request))
            return await _passkeys_form(request, session, t.passkey_add_failed, status=400)
        details = {"credential": added.credential_id[:16], "aaguid": added.aaguid}
        event = "account.passkey_added"
    elif action == "remove":
        if not await services.passkeys.remove(session.account_id, credential_id):
            return RedirectResponse(PASSKEYS_PATH, status_code=303)
        details = {"credential": credential_id[:16]}
        event = "account.passkey_removed"
    elif action == "rename":
        if not await services.passkeys.rename(
            session.account_id, credential_id, form.get("name", "")
        ):
            return RedirectResponse(PASSKEYS_PATH, status_code=303)
        details = {"credential": credential_id[:16]}
        event = "account.passkey_renamed"
    else:
        return error_page(request, {}, "expired")
    await _audit(request, session, event, details)
    return RedirectResponse(PASSKEYS_PATH, status_code=303)


async def _audit(
    request: Request,
    session: SsoSession,
    event: str,
    details: dict[str, object],
    outcome: str = "success",
) -> None:
    services: Services = request.app.state.services
    await services.audit.record(
        AuditEvent(
            event,
            outcome=outcome,
            actor=session.account_id,
            target=session.account_id,
            details=details,
        ),
        request=request,
    )
