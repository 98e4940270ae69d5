"""Changing the verified phone on the account page: a code to the new number and one to the old
number; without the old number, a real-name check of the identity on record takes its place.
The new number must not be another account's (the page does not say whose). Needs a recent
sign-in; audited; the old number is told."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway.account.guard import locale, recent, sign_in_first
from gateway.account.pages import account_form
from gateway.endpoints.authorize import error_page
from gateway.identity import phones
from gateway.identity.sessions import SsoSession
from gateway.identity.sms import SmsFailed, SmsMessage
from gateway.identity.sms_limits import SmsLimits
from gateway.pages.render import messages, page
from gateway.pages.second_factor import current_session
from gateway.pages.sms_sending import client_ip
from gateway.server.services import Services
from store import kv_keys
from store.errors import Conflict
from store.phones import replace_verified_phone
from store.records import AccountIdentifier, AuditEvent

PHONE_PATH = "/account/phone"
PURPOSE = "account-phone"
CHANGE_TTL = 600


async def _state(services: Services, sid: str) -> dict[str, Any]:
    raw = await services.expiring.get(kv_keys.phone_change(sid))
    return orjson.loads(raw) if raw else {}


async def _form(
    request: Request,
    session: SsoSession,
    *,
    error: str | None = None,
    notice: str | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    services: Services = request.app.state.services
    browser, new_browser = services.csrf.browser_id(request)
    current = await services.notices.verified_phone(session.account_id)
    state = await _state(services, session.sid)
    new = services.phone_accounts.open(state["new"]) if state.get("new") else ""
    has_id = await services.real_name.recorded_national_id(session.account_id) is not None
    response = page(
        request,
        "account_phone.html",
        locale(request),
        {
            "current": phones.masked(current) if current else "",
            "step": "codes" if state.get("new") else "start",
            "new_masked": phones.masked(new) if new else "",
            "old_code": state.get("proof") == "code",
            "real_name_possible": bool(current)
            and has_id
            and services.real_name.checker is not None,
            "csrf_token": services.csrf.token(browser, PURPOSE),
            "action": PHONE_PATH,
            "error": error,
            "notice": notice,
        },
        status=status,
    )
    for name, value in (headers or {}).items():
        response.headers[name] = value
    if new_browser:
        services.csrf.set_cookie(response, browser)
    return response


async def phone_page(request: Request) -> Response:
    session = await current_session(request)
    if session is None:
        return await sign_in_first(request, PHONE_PATH)
    return await _form(request, session)


async def _send(
    request: Request, session: SsoSession, phone: str, binding: str, text: str
) -> str | None:
    """Send a code under the per-number, address and browser limits; the message key of the
    refusal, or None when it was sent. A signed-in person is not asked for a challenge."""
    services: Services = request.app.state.services
    number = services.phone_accounts.blind_index(phone)
    browser, _ = services.csrf.browser_id(request)
    limits = SmsLimits(services.expiring)
    counted = await limits.count(number, client_ip(request), browser, solved=True)
    if counted.refused_by is not None:
        return "sms_too_many"
    code = await services.sms_codes.issue(binding, phone)
    try:
        await services.sms.send(SmsMessage(phone, "phone_change", code, text.format(code=code)))
    except SmsFailed as failure:
        await services.sms_codes.withdraw(binding)
        await limits.take_back(number, client_ip(request), browser)
        await services.audit.record(
            AuditEvent(
                "sms.failed",
                outcome="failure",
                target=session.account_id,
                details={"phone": phones.masked(phone), "reason": failure.reason},
            ),
            request=request,
        )
        return "sms_send_failed"
    return None


async def _start(request: Request, session: SsoSession, form: dict[str, str]) -> Response:
    """The new number typed (and the old proven by a code, or by a real-name check)."""
    services: Services = request.app.state.services
    t = messages(locale(request))
    new = phones.canonical(form.get("phone", ""))
    if new is None:
        return await _form(request, session, error=t.sms_bad_phone, status=400)
    current = await services.notices.verified_phone(session.account_id)
    holder = await services.phone_accounts.holder(new)
    if new == current or (holder is not None and holder != session.account_id):
        return await _form(request, session, error=t.phone_taken, status=409)
    proof = "code" if current else "none"
    if form.get("action") == "real_name":
        account = await services.accounts.get(session.account_id)
        assert account is not None
        checked = await services.real_name.confirm_identity(
            account, form.get("name", ""), form.get("national_id", ""), client_ip(request)
        )
        await _audit_check(request, session, checked.result)
        if checked.result != "confirmed":
            return await _form(request, session, error=_check_error(t, checked), status=400)
        proof = "real_name"
    text = t.phone_sms_text.replace("{minutes}", "5")
    sends = [_send(request, session, new, f"phone-new:{session.sid}", text)]
    if proof == "code" and current:
        sends.append(_send(request, session, current, f"phone-old:{session.sid}", text))
    refused = [r for r in await asyncio.gather(*sends) if r is not None]
    if refused:
        return await _form(request, session, error=t[refused[0]].format(minutes=1), status=429)
    state = {"new": services.phone_accounts.seal(new), "proof": proof}
    await services.expiring.put(kv_keys.phone_change(session.sid), orjson.dumps(state), CHANGE_TTL)
    return await _form(request, session, notice=t.phone_codes_sent)


def _check_error(t: Any, checked: Any) -> str:
    if checked.result == "limited":
        return t.locked.format(minutes=max(1, -(-checked.retry_after // 60)))
    if checked.result == "unavailable":
        return t.real_name_unavailable
    return t.real_name_mismatch


async def _audit_check(request: Request, session: SsoSession, result: str) -> None:
    services: Services = request.app.state.services
    await services.audit.record(
        AuditEvent(
            "account.real_name_confirmed" if result == "confirmed" else "account.real_name_failed",
            outcome="success" if result == "confirmed" else "failure",
            actor=session.account_id,
            target=session.account_id,
            details={"purpose": "phone_change", "result": result},
        ),
        request=request,
    )


async def _finish(request: Request, session: SsoSession, form: dict[str, str]) -> Response:
    services: Services = request.app.state.services
    t = messages(locale(request))
    state = await _state(services, session.sid)
    if not state.get("new"):
        return await _form(request, session, error=t.sms_code_expired, status=400)
    new = services.phone_accounts.open(state["new"])
    old = await services.notices.verified_phone(session.account_id)
    checked_new = await services.sms_codes.check(
        f"phone-new:{session.sid}", form.get("code_new", "")
    )
    right = [checked_new.phone == new]
    if state["proof"] == "code":
        checked_old = await services.sms_codes.check(
            f"phone-old:{session.sid}", form.get("code_old", "")
        )
        right.append(old is not None and checked_old.phone == old)
    if not all(right):
        if any(right):  # a right code is spent: both are sent again from the start
            await services.expiring.delete(kv_keys.phone_change(session.sid))
            return await _form(request, session, error=t.sms_code_expired, status=400)
        return await _form(request, session, error=t.sms_bad_code, status=400)
    try:
        await replace_verified_phone(
            services.database,
            session.account_id,
            AccountIdentifier(
                account_id=session.account_id,
                type="phone",
                blind_index=services.phone_accounts.blind_index(new),
                value=services.phone_accounts.seal(new),
                verified=True,
                created_at=services.clock.now(),
            ),
        )
    except Conflict:
        return await _form(request, session, error=t.phone_taken, status=409)
    await services.expiring.delete(kv_keys.phone_change(session.sid))
    await services.audit.record(
        AuditEvent(
            "account.phone_changed",
            actor=session.account_id,
            target=session.account_id,
            details={
                "phone": phones.masked(new),
                "old": phones.masked(old) if old else None,
                "proof": state["proof"],
            },
        ),
        request=request,
    )
    notice = t.notice_phone_changed.format(phone=phones.masked(new))
    await services.notices.send(
        session.account_id, "phone_changed", notice, request, phone=old or new
    )
    return await _form(request, session, notice=t.phone_changed)


async def phone_submit(request: Request) -> Response:
    services: Services = request.app.state.services
    posted = await account_form(request, PURPOSE)
    if posted is None:
        return error_page(request, {}, "expired")
    form, session = posted
    if not recent(services, session):
        return await sign_in_first(request, PHONE_PATH)
    action = form.get("action")
    if action in ("send", "real_name"):
        return await _start(request, session, form)
    if action == "change":
        return await _finish(request, session, form)
    if action == "cancel":
        await services.expiring.delete(kv_keys.phone_change(session.sid))
    return RedirectResponse(PHONE_PATH, status_code=303)
