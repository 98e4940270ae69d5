"""Changing the password on the account page: the current password first (an account that has
none, registered by phone, needs a recent sign-in instead), the password rules, and every other
session of the account ends (its apps are told). Audited; a notice goes to the verified phone."""

from __future__ import annotations

import math

from starlette.requests import Request
from starlette.responses import Response

from gateway.account.guard import locale, recent, sign_in_first
from gateway.account.pages import account_form
from gateway.endpoints.authorize import error_page
from gateway.identity.errors import InvalidInput
from gateway.identity.rate_limits import PASSWORD_CHANGE_FAILURES, hit, reset, retry_after
from gateway.identity.sessions import SsoSession
from gateway.pages.recover import end_sessions_of
from gateway.pages.render import messages, page
from gateway.pages.second_factor import current_session
from gateway.server.services import Services
from store import kv_keys
from store.errors import Conflict
from store.records import AuditEvent

PASSWORD_PATH = "/account/password"  # noqa: S105 (a path)
PURPOSE = "account-password"


async def _form(
    request: Request,
    session: SsoSession,
    *,
    error: str | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Response:
    services: Services = request.app.state.services
    browser, new_browser = services.csrf.browser_id(request)
    account = await services.accounts.get(session.account_id)
    response = page(
        request,
        "account_password.html",
        locale(request),
        {
            "has_password": bool(account and account.password_hash),
            "username": account.username if account else "",
            "csrf_token": services.csrf.token(browser, PURPOSE),
            "action": PASSWORD_PATH,
            "error": error,
            "notice": notice,
        },
        status=status,
    )
    if new_browser:
        services.csrf.set_cookie(response, browser)
    return response


async def password_page(request: Request) -> Response:
    session = await current_session(request)
    if session is None:
        return await sign_in_first(request, PASSWORD_PATH)
    return await _form(request, session)


async def password_submit(request: Request) -> Response:
    services: Services = request.app.state.services
    posted = await account_form(request, PURPOSE)
    if posted is None:
        return error_page(request, {}, "expired")
    form, session = posted
    t = messages(locale(request))
    account = await services.accounts.get(session.account_id)
    if account is None:
        return error_page(request, {}, "expired")
    new = form.get("password", "")
    if new != form.get("password_confirm", ""):
        return await _form(request, session, error=t.password_mismatch, status=400)
    if services.password_changes.problem(account, new):
        return await _form(request, session, error=t.password_weak, status=400)
    if account.password_hash is None:
        if not recent(services, session):
            return await sign_in_first(request, PASSWORD_PATH)
    else:
        counter = kv_keys.password_change_failures(account.id)
        limit = PASSWORD_CHANGE_FAILURES
        if not limit.allows(await hit(services.expiring, counter, limit)):
            left = await retry_after(services.expiring, counter, limit)
            response = await _form(
                request, session, error=t.locked.format(minutes=math.ceil(left / 60)), status=429
            )
            response.headers["Retry-After"] = str(left)
            return response
        if not await services.password_changes.current_is(account.id, form.get("current", "")):
            await services.audit.record(
                AuditEvent(
                    "account.password_change_failed",
                    outcome="failure",
                    actor=account.id,
                    target=account.id,
                ),
                request=request,
            )
            return await _form(request, session, error=t.password_current_wrong, status=400)
        await reset(services.expiring, counter)
    try:
        await services.password_changes.set(account.id, new)
    except (InvalidInput, Conflict):
        return await _form(request, session, error=t.password_weak, status=409)
    ended = await end_sessions_of(request, account.id, session.sid, "password changed")
    await services.audit.record(
        AuditEvent(
            "account.password_changed",
            actor=account.id,
            target=account.id,
            details={"sessions_ended": ended, "had_password": account.password_hash is not None},
        ),
        request=request,
    )
    await services.notices.send(account.id, "password_changed", t.notice_password_changed, request)
    return await _form(request, session, notice=t.password_changed)
