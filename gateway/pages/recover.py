"""找回密码: a new password by an SMS code to the account's verified phone.

The answers do not depend on whether the number (or the username with it) has an account: for
an unknown one the same limits are counted and a code is issued that is never sent, so a guess
meets "wrong code" as anyone's would. Once the code is right, an account with an authenticator
app still needs a code from it (or a recovery code): a phone alone does not defeat MFA. The new
password ends every session of the account (its apps get back-channel logout tokens)."""

from __future__ import annotations

import math
import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from gateway.endpoints.authorize import (
    Transaction,
    error_page,
    load_transaction,
    posted_form,
    update_transaction,
)
from gateway.endpoints.end_session import end_sso_session
from gateway.identity import phones
from gateway.identity.errors import InvalidInput
from gateway.identity.rate_limits import OTP_CODES, hit, reset, retry_after
from gateway.identity.recovery_codes import looks_like_one
from gateway.pages.render import messages, page
from gateway.pages.sign_in import client_view, locale_of
from gateway.pages.sms_sending import challenge_of, send_code
from gateway.server.services import Services
from policies.accounts import canonical_username
from store import kv_keys
from store.errors import Conflict
from store.records import AuditEvent

RECOVER_PATH = "/login/recover"
SEND_PATH = "/login/recover/send"
RESET_PATH = "/login/recover/reset"
PURPOSE = "recover"


def _binding(tx_id: str) -> str:
    return f"recover:{tx_id}"


async def _form(
    request: Request,
    tx_id: str,
    tx: Transaction,
    *,
    step: str = "phone",
    error: str | None = None,
    notice: str | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> Response:
    services: Services = request.app.state.services
    settings = services.settings
    state = tx.extra.get("recover") or {}
    phone = state.get("phone", "")
    challenge = challenge_of(tx) if step in ("phone", "code") else None
    nonce = secrets.token_urlsafe(16) if challenge else None
    _, sources = await client_view(services, tx)
    response = page(
        request,
        "recover.html",
        locale_of(request, tx),
        {
            "tx": tx_id,
            "step": step,
            "csrf_token": services.csrf.token(tx.browser, f"{PURPOSE}:{tx_id}"),
            "send_action": SEND_PATH,
            "action": RECOVER_PATH,
            "reset_action": RESET_PATH,
            "error": error,
            "notice": notice,
            "phone": phone,
            "username": state.get("username", ""),
            "masked_phone": phones.masked(phone) if phone else "",
            "challenge": challenge,
            "wait_seconds": settings.sms_challenge_wait_seconds,
            "script_nonce": nonce,
            "second_factor": bool(state.get("second_factor")),
            **context,
        },
        status=status,
        form_action=sources,
        script_nonce=nonce,
    )
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


async def recover_page(request: Request) -> Response:
    services: Services = request.app.state.services
    tx_id = request.query_params.get("tx", "")
    tx = await load_transaction(services, request, tx_id)
    if tx is None:
        return error_page(request, {}, "expired")
    tx.extra.pop("recover", None)
    await update_transaction(services, tx_id, tx)
    return await _form(request, tx_id, tx)


async def _posted(request: Request) -> tuple[dict[str, str], str, Transaction] | None:
    services: Services = request.app.state.services
    posted = await posted_form(request, PURPOSE)
    if posted is None:
        return None
    form, tx_id = posted
    tx = await load_transaction(services, request, tx_id)
    return None if tx is None else (form, tx_id, tx)


async def _holder(services: Services, phone: str, username: str) -> str | None:
    """The account that may be recovered with this number (and username, when given)."""
    account_id = await services.phone_accounts.holder(phone)
    account = await services.accounts.get(account_id) if account_id else None
    if account is None or account.disabled:
        return None
    if username and canonical_username(username) != account.username:
        return None
    return account.id


async def send(request: Request) -> Response:
    """Send a code (the first, or a new one) to the number typed or the one being recovered."""
    services: Services = request.app.state.services
    posted = await _posted(request)
    if posted is None:
        return error_page(request, {}, "expired")
    form, tx_id, tx = posted
    t = messages(locale_of(request, tx))
    state = tx.extra.get("recover") or {}
    typed = form.get("phone")
    phone = phones.canonical(typed) if typed is not None else state.get("phone")
    username = form.get("username", state.get("username", "")).strip()[:64]
    if phone is None:
        return await _form(request, tx_id, tx, error=t.sms_bad_phone, status=400)
    account_id = await _holder(services, phone, username)
    tx.extra["recover"] = {"phone": phone, "username": username}
    sent = await send_code(
        request,
        tx_id,
        tx,
        phone,
        binding=_binding(tx_id),
        template="recovery",
        text=t.recover_sms_text.replace("{minutes}", "5"),
        pow_nonce=form.get("pow", ""),
        deliver=account_id is not None,
        wait=False,
    )
    if sent.error is not None:
        headers = {"Retry-After": str(sent.retry_after)} if sent.retry_after else None
        return await _form(
            request,
            tx_id,
            tx,
            error=t[sent.error].format(minutes=sent.minutes),
            status=sent.status,
            headers=headers,
        )
    await services.audit.record(
        AuditEvent(
            "recovery.code_requested",
            target=account_id,
            details={"phone": phones.masked(phone), "known": account_id is not None},
        ),
        request=request,
    )
    notice = t.sms_sent.format(phone=phones.masked(phone))
    return await _form(request, tx_id, tx, step="code", notice=notice)


async def verify(request: Request) -> Response:
    """The code typed: right, and the new password may be chosen."""
    services: Services = request.app.state.services
    posted = await _posted(request)
    if posted is None:
        return error_page(request, {}, "expired")
    form, tx_id, tx = posted
    t = messages(locale_of(request, tx))
    state = tx.extra.get("recover") or {}
    if not state.get("phone"):
        return await _form(request, tx_id, tx, error=t.sms_code_expired, status=400)
    checked = await services.sms_codes.check(_binding(tx_id), form.get("code", ""))
    if checked.phone is None or checked.phone != state["phone"]:
        step = "phone" if checked.exhausted else "code"
        error = t.sms_code_expired if checked.exhausted else t.sms_bad_code
        return await _form(request, tx_id, tx, step=step, error=error, status=400)
    account_id = await _holder(services, checked.phone, state.get("username", ""))
    if account_id is None:  # only when it changed since the code was sent
        return await _form(request, tx_id, tx, error=t.sms_code_expired, status=409)
    state.update(
        account=account_id,
        verified_at=services.clock.now(),
        second_factor=await services.otp.enrolled(account_id),
    )
    tx.extra["recover"] = state
    await update_transaction(services, tx_id, tx)
    return await _form(request, tx_id, tx, step="password")


async def _second_factor_refused(
    request: Request, tx_id: str, tx: Transaction, account_id: str, code: str
) -> Response | None:
    """None when the authenticator's code or a recovery code is right (counted as at sign-in)."""
    services: Services = request.app.state.services
    t = messages(locale_of(request, tx))
    counter = kv_keys.otp_failures(account_id)
    if not OTP_CODES.allows(await hit(services.expiring, counter, OTP_CODES)):
        left = await retry_after(services.expiring, counter, OTP_CODES)
        minutes = math.ceil(left / 60)
        response = await _form(
            request, tx_id, tx, step="password", error=t.locked.format(minutes=minutes), status=429
        )
        response.headers["Retry-After"] = str(left)
        return response
    if looks_like_one(code):
        right = await services.recovery_codes.use(account_id, code)
    else:
        right = await services.otp.verify(account_id, code)
    if not right:
        await services.audit.record(
            AuditEvent("recovery.second_factor_failed", outcome="failure", target=account_id),
            request=request,
        )
        return await _form(request, tx_id, tx, step="password", error=t.otp_wrong, status=400)
    await reset(services.expiring, counter)
    return None


async def reset_password(request: Request) -> Response:
    services: Services = request.app.state.services
    posted = await _posted(request)
    if posted is None:
        return error_page(request, {}, "expired")
    form, tx_id, tx = posted
    t = messages(locale_of(request, tx))
    state = tx.extra.get("recover") or {}
    account_id = state.get("account")
    if not account_id or services.clock.now() - state.get("verified_at", 0) > 600:
        return await _form(request, tx_id, tx, error=t.sms_code_expired, status=400)
    password = form.get("password", "")
    if password != form.get("password_confirm", ""):
        return await _form(
            request, tx_id, tx, step="password", error=t.password_mismatch, status=400
        )
    account = await services.accounts.get(account_id)
    if account is None or services.password_changes.problem(account, password):
        return await _form(request, tx_id, tx, step="password", error=t.password_weak, status=400)
    if state.get("second_factor"):
        refused = await _second_factor_refused(
            request, tx_id, tx, account_id, form.get("second_factor", "")
        )
        if refused is not None:
            return refused
    try:
        await services.password_changes.set(account_id, password)
    except (InvalidInput, Conflict):
        return await _form(request, tx_id, tx, error=t.sms_code_expired, status=409)
    tx.extra.pop("recover", None)
    await update_transaction(services, tx_id, tx)
    ended = await end_sessions_of(request, account_id, None, "password reset")
    await services.audit.record(
        AuditEvent(
            "account.password_reset",
            actor=account_id,
            target=account_id,
            details={
                "method": "sms",
                "sessions_ended": ended,
                "phone": phones.masked(state["phone"]),
            },
        ),
        request=request,
    )
    await services.notices.send(account_id, "password_reset", t.notice_password_reset, request)
    return await _form(request, tx_id, tx, step="done", notice=t.recover_done)


async def end_sessions_of(
    request: Request, account_id: str, keep_sid: str | None, reason: str
) -> int:
    """End every session of the account but ``keep_sid`` (its apps are told by back-channel
    logout); how many ended."""
    services: Services = request.app.state.services
    ended = 0
    for session in await services.sessions.of_account(account_id):
        if session.sid != keep_sid:
            await end_sso_session(request, session.sid, reason)
            ended += 1
    return ended
