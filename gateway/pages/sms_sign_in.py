"""短信登录: sign in, or register, with a phone number and an SMS code, in one form.

The answers do not depend on whether the number has an account: the same code page, the same
agreement box, the same words. Only after the right code does the path split: a known number
signs in as a password does (``sign_in.signed_in``), an unknown one becomes an L1 account."""

from __future__ import annotations

import secrets
from typing import Any, cast

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway.endpoints.authorize import (
    Transaction,
    error_page,
    load_transaction,
    posted_form,
)
from gateway.endpoints.transaction import could_be_transaction, transaction_in_browser
from gateway.identity import phones
from gateway.identity.sms_limits import SmsLimits
from gateway.pages import sms_sending
from gateway.pages.federated_login import LOCAL, SignIn
from gateway.pages.render import form_action, messages, page, request_locale
from gateway.pages.sign_in import signed_in
from gateway.pages.sms_sending import challenge_of
from gateway.server.services import Services
from store import kv_keys
from store.errors import Conflict
from store.kv import Step
from store.records import Account, AuditEvent

SMS_PATH = "/login/sms"
SEND_PATH = "/login/sms/send"


def _locale(request: Request, tx: Transaction) -> str:
    wanted = request.query_params.get("ui_locales") or tx.params.get("ui_locales")
    return request_locale(request, wanted)


async def _form(
    request: Request,
    tx_id: str,
    tx: Transaction,
    *,
    step: str = "phone",
    error: str | None = None,
    notice: str | None = None,
    phone: str = "",
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    services: Services = request.app.state.services
    settings = services.settings
    locale = _locale(request, tx)
    challenge = challenge_of(tx)
    nonce = secrets.token_urlsafe(16) if challenge else None
    context: dict[str, Any] = {
        "tx": tx_id,
        "step": step,
        "csrf_token": services.csrf.token(tx.browser, f"sms:{tx_id}"),
        "send_action": SEND_PATH,
        "page_path": SMS_PATH,
        "action": SMS_PATH,
        "error": error,
        "notice": notice,
        "phone": phone,
        "masked_phone": phones.masked(phone) if phone else "",
        "challenge": challenge,
        "wait_seconds": settings.sms_challenge_wait_seconds,
        "script_nonce": nonce,
        "terms_url": settings.terms_url,
        "privacy_url": settings.privacy_url,
        "local": True,
        "method": "sms",
        "scan_tab": bool(settings.mobile_app_clients),
    }
    # The form's redirects end at the app: form-action must admit its redirect URIs.
    client = await services.clients.get(tx.params.get("client_id", ""))
    sources = form_action(*client.redirect_uris) if client is not None else form_action()
    response = page(
        request,
        "sms_login.html",
        locale,
        context,
        status=status,
        form_action=sources,
        script_nonce=nonce,
    )
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


async def _transaction(request: Request, tx_id: str) -> Transaction | None:
    services: Services = request.app.state.services
    return _for_phone(await load_transaction(services, request, tx_id))


def _for_phone(tx: Transaction | None) -> Transaction | None:
    if tx is None or tx.extra.get("step_up"):
        return None  # a step-up needs a stronger way in than a phone
    return tx


async def sms_page(request: Request) -> Response:
    services: Services = request.app.state.services
    tx_id = request.query_params.get("tx", "")
    tx = await load_transaction(services, request, tx_id)
    if tx is None:
        return error_page(request, {}, "expired")
    if tx.extra.get("step_up"):
        return RedirectResponse(f"/login?tx={tx_id}", status_code=303)
    return await _form(request, tx_id, tx)


async def send_code(request: Request) -> Response:
    posted = await posted_form(request, "sms")
    if posted is None:
        return error_page(request, {}, "expired")
    form, tx_id = posted
    phone = phones.canonical(form.get("phone", ""))
    tx, seen = await _counted_send(request, tx_id, phone)
    if tx is None:
        return error_page(request, {}, "expired")
    t = messages(_locale(request, tx))
    if phone is None:
        return await _form(request, tx_id, tx, error=t.sms_bad_phone, status=400)
    sent = await sms_sending.send_code(
        request,
        tx_id,
        tx,
        phone,
        binding=tx_id,
        template="sign_in",
        text=t.sms_text.replace("{minutes}", "5"),
        pow_nonce=form.get("pow", ""),
        tx_changed=False,
        seen=seen,
    )
    if sent.error is not None:
        headers = {"Retry-After": str(sent.retry_after)} if sent.retry_after else None
        return await _form(
            request,
            tx_id,
            tx,
            error=t[sent.error].format(minutes=sent.minutes),
            phone=phone,
            status=sent.status,
            headers=headers,
        )
    notice = t.sms_sent.format(phone=phones.masked(phone))
    return await _form(request, tx_id, tx, step="code", notice=notice, phone=phone)


async def _counted_send(
    request: Request, tx_id: str, phone: str | None
) -> tuple[Transaction | None, list[int] | None]:
    """The transaction, and the send to ``phone`` counted in the round trip that reads it (the
    CSRF token holds this browser and transaction; a dead transaction's count is taken back)."""
    services: Services = request.app.state.services
    browser = request.cookies.get(services.csrf.cookie_name)
    if phone is None or browser is None or not could_be_transaction(tx_id):
        return await _transaction(request, tx_id), None
    number = services.phone_accounts.blind_index(phone)
    limits = SmsLimits(services.expiring)
    address = sms_sending.client_ip(request)
    raw, *seen = await services.expiring.many(
        Step("get", (kv_keys.transaction(tx_id),)), *limits.count_steps(number, address, browser)
    )
    tx = _for_phone(transaction_in_browser(services, request, cast(bytes | None, raw)))
    if tx is None:
        await limits.take_back(number, address, browser)
        return None, None
    return tx, [cast(int, n) for n in seen]


async def verify_code(request: Request) -> Response:
    services: Services = request.app.state.services
    posted = await posted_form(request, "sms")
    if posted is None:
        return error_page(request, {}, "expired")
    form, tx_id = posted
    if form.get("agree") != "yes" or not could_be_transaction(tx_id):
        tx = await _transaction(request, tx_id)
        if tx is None:
            return error_page(request, {}, "expired")
        t = messages(_locale(request, tx))
        typed_phone = phones.canonical(form.get("phone", "")) or ""
        return await _form(
            request, tx_id, tx, step="code", error=t.sms_must_agree, phone=typed_phone, status=400
        )
    # The CSRF token holds this browser and transaction, so the try is counted in the round
    # trip that reads the transaction: no one else's browser can spend this code's tries.
    raw, tries, code = await services.expiring.many(
        Step("get", (kv_keys.transaction(tx_id),)), *services.sms_codes.check_steps(tx_id)
    )
    tx = _for_phone(transaction_in_browser(services, request, cast(bytes | None, raw)))
    if tx is None:
        return error_page(request, {}, "expired")
    t = messages(_locale(request, tx))
    typed_phone = phones.canonical(form.get("phone", "")) or ""
    checked = await services.sms_codes.judge(
        tx_id, form.get("code", ""), cast(int, tries), cast(bytes | None, code)
    )
    if checked.phone is None:
        await services.audit.record(
            AuditEvent(
                "login.failed",
                outcome="failure",
                client_id=tx.params.get("client_id"),
                check="sms_code",
                details={"provider": "sms", "reason": "expired" if checked.exhausted else "code"},
            ),
            request=request,
        )
        if checked.exhausted:
            return await _form(request, tx_id, tx, error=t.sms_code_expired, status=400)
        return await _form(
            request, tx_id, tx, step="code", error=t.sms_bad_code, phone=typed_phone, status=400
        )
    return await _signed_in_by_phone(request, tx_id, tx, checked.phone)


async def _signed_in_by_phone(
    request: Request, tx_id: str, tx: Transaction, phone: str
) -> Response:
    services: Services = request.app.state.services
    t = messages(_locale(request, tx))
    account = await services.phone_accounts.account_of(phone)
    if account is None:
        agreements = {
            "terms": services.settings.terms_version,
            "privacy": services.settings.privacy_version,
        }
        try:
            account = await services.phone_accounts.register(phone, agreements)
        except Conflict:
            # Registered meanwhile (another browser, the same person): sign that account in.
            account = await services.phone_accounts.account_of(phone)
            if account is None:
                return await _form(request, tx_id, tx, error=t.sms_code_expired, status=409)
            return await _finish(request, tx_id, tx, account, account.id)
        await services.audit.record(
            AuditEvent(
                "account.registered",
                actor=account.id,
                target=account.id,
                client_id=tx.params.get("client_id"),
                details={"phone": phones.masked(phone), "method": "sms", **agreements},
            ),
            request=request,
        )
    return await _finish(request, tx_id, tx, account, account.id)


async def _finish(
    request: Request, tx_id: str, tx: Transaction, account: Account | None, account_id: str | None
) -> Response:
    services: Services = request.app.state.services
    t = messages(_locale(request, tx))
    if account is None or account.disabled:
        await services.audit.record(
            AuditEvent(
                "login.failed",
                outcome="failure",
                target=account_id,
                client_id=tx.params.get("client_id"),
                check="disabled",
                details={"provider": "sms", "reason": "disabled"},
            ),
            request=request,
        )
        return await _form(request, tx_id, tx, error=t.sms_refused, status=403)
    result = SignIn(account=account, acr=account.assurance, idp=LOCAL, idp_subject=account.id)
    return await signed_in(request, tx_id, tx, result, ["sms"], queued=True)
