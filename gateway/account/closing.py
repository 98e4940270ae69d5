"""注销: closing one's own account (个人信息保护法 Art. 47).

Confirmed with the password or an SMS code to the verified phone. Then every session ends,
every app the person used is told by back-channel logout (with the session's ``sid`` where a
session is live, by ``sub`` alone otherwise: OIDC Back-Channel Logout 1.0 §2.4), refresh and
access tokens are revoked, and the data is erased (identity/erasure.py). An enterprise's legal
representative closes only after the enterprise has another one."""

from __future__ import annotations

import math

from starlette.requests import Request
from starlette.responses import Response

from gateway.account import my_data
from gateway.account.guard import signed_in
from gateway.account.navigation import navigation
from gateway.account.pages import account_form
from gateway.endpoints.authorize import error_page
from gateway.endpoints.end_session import end_sso_session
from gateway.identity import phones
from gateway.identity.claims import subject_for
from gateway.identity.erasure import AccountErasure
from gateway.identity.rate_limits import Limit, hit, reset, retry_after
from gateway.identity.sessions import SsoSession
from gateway.identity.sms import SmsFailed, SmsMessage
from gateway.identity.sms_limits import SmsLimits
from gateway.oauth.revocations import revoke_family
from gateway.pages.render import messages, page, request_locale
from gateway.server.services import Services
from store import kv_keys
from store.records import Account, AuditEvent

CLOSE_PATH = "/account/close"
CLOSE_TRIES = Limit(5, per=900)  # wrong passwords or codes per account
PURPOSE = "account-close"


def _binding(session: SsoSession) -> str:
    return f"close:{session.sid}"  # the SMS code is good in this session only


async def _verified_phone(services: Services, account: Account) -> str | None:
    found = await my_data.identifiers(services, account)
    return next((i["value"] for i in found if i["type"] == "phone" and i["verified"]), None)


async def blockers(services: Services, account: Account) -> list[str]:
    """Why the account cannot be closed now (locale keys); empty when it can."""
    positions = {d.position for d in await services.delegations.of_member(account.id)}
    return ["close_blocked_representative"] if "representative" in positions else []


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
    account = await services.accounts.get(session.account_id)
    if account is None:
        return error_page(request, {}, "expired")
    locale = request_locale(request)
    t = messages(locale)
    phone = await _verified_phone(services, account)
    browser, new_browser = services.csrf.browser_id(request)
    response = page(
        request,
        "account_close.html",
        locale,
        {
            "nav": navigation(CLOSE_PATH),
            "blockers": [t[key] for key in await blockers(services, account)],
            "has_password": account.password_hash is not None,
            "masked_phone": phones.masked(phone) if phone else None,
            "action": CLOSE_PATH,
            "csrf_token": services.csrf.token(browser, PURPOSE),
            "error": error,
            "notice": notice,
        },
        status=status,
    )
    response.headers.update(headers or {})
    if new_browser:
        services.csrf.set_cookie(response, browser)
    return response


async def close_page(request: Request) -> Response:
    session = await signed_in(request, CLOSE_PATH)
    if isinstance(session, Response):
        return session
    return await _form(request, session)


async def close_submit(request: Request) -> Response:
    services: Services = request.app.state.services
    posted = await account_form(request, PURPOSE)
    if posted is None:
        return error_page(request, {}, "expired")
    form, session = posted
    account = await services.accounts.get(session.account_id)
    if account is None:
        return error_page(request, {}, "expired")
    if form.get("action") == "send":
        return await _send_code(request, session, account)
    t = messages(request_locale(request))
    if await blockers(services, account):
        return await _form(request, session, status=409)
    if form.get("understood") != "yes":  # asked first: a code is spent by checking it
        return await _form(request, session, error=t.close_must_understand, status=400)
    counter = kv_keys.close_failures(account.id)
    if not CLOSE_TRIES.allows(await hit(services.expiring, counter, CLOSE_TRIES)):
        left = await retry_after(services.expiring, counter, CLOSE_TRIES)
        minutes = math.ceil(left / 60)
        return await _form(
            request,
            session,
            error=t.locked.format(minutes=minutes),
            status=429,
            headers={"Retry-After": str(left)},
        )
    if not await _confirmed(services, session, account, form):
        await services.audit.record(
            AuditEvent(
                "account.close_refused",
                outcome="failure",
                actor=account.id,
                target=account.id,
                check="confirmation",
            ),
            request=request,
        )
        return await _form(request, session, error=t.close_not_confirmed, status=400)
    await reset(services.expiring, counter)
    frontchannel = await close_account(request, account)
    response = page(
        request,
        "account_closed.html",
        request_locale(request),
        {"frontchannel_uris": frontchannel},
    )
    services.sessions.clear_cookie(response)
    return response


async def _confirmed(
    services: Services, session: SsoSession, account: Account, form: dict[str, str]
) -> bool:
    """The password, or the SMS code sent in this session to the verified phone."""
    if form.get("password") and account.password_hash is not None:
        checked = await services.passwords.verify(account.password_hash, form["password"])
        return checked.ok
    if form.get("code"):
        phone = await _verified_phone(services, account)
        checked_code = await services.sms_codes.check(_binding(session), form["code"])
        return phone is not None and checked_code.phone == phone
    return False


async def _send_code(request: Request, session: SsoSession, account: Account) -> Response:
    services: Services = request.app.state.services
    t = messages(request_locale(request))
    phone = await _verified_phone(services, account)
    if phone is None:
        return await _form(request, session, error=t.close_no_phone, status=400)
    browser, _ = services.csrf.browser_id(request)
    ip = request.client.host if request.client else "unknown"
    number = services.phone_accounts.blind_index(phone)
    limits = SmsLimits(services.expiring)
    # Signed in already: no challenge, the limits per number, address and browser hold.
    counted = await limits.count(number, ip, browser, solved=True)
    if counted.refused_by is not None:
        minutes = max(1, -(-counted.retry_after // 60))
        return await _form(
            request,
            session,
            error=t.sms_too_many.format(minutes=minutes),
            status=429,
            headers={"Retry-After": str(counted.retry_after)},
        )
    code = await services.sms_codes.issue(_binding(session), phone)
    text = t.close_sms_text.format(code=code, minutes=5)
    details = {"phone": phones.masked(phone), "backend": services.sms.name, "purpose": "close"}
    try:
        await services.sms.send(SmsMessage(phone, "close_account", code, text, {"code": code}))
    except SmsFailed as failure:
        await services.sms_codes.withdraw(_binding(session))
        await limits.take_back(number, ip, browser)
        await services.audit.record(
            AuditEvent(
                "sms.failed",
                outcome="failure",
                actor=account.id,
                details={**details, "reason": failure.reason},
            ),
            request=request,
        )
        return await _form(request, session, error=t.sms_send_failed, status=502)
    await services.audit.record(
        AuditEvent("sms.sent", actor=account.id, details=details), request=request
    )
    return await _form(request, session, notice=t.sms_sent.format(phone=phones.masked(phone)))


async def close_account(request: Request, account: Account) -> list[str]:
    """End, tell, revoke and erase; the front-channel logout URIs for the browser."""
    services: Services = request.app.state.services
    apps = await my_data.apps(services, account.id)
    told: set[str] = set()
    frontchannel: list[str] = []
    for session in await services.sessions.of_account(account.id):
        told.update(await services.sessions.clients_of(session.sid))
        frontchannel += await end_sso_session(request, session.sid, "account closed")
    for app in apps:
        client = await services.clients.get(app.client_id)
        if client is not None and client.backchannel_logout_uri and app.client_id not in told:
            subject = subject_for(client, account.id, services.pairwise_key)
            request.app.state.backchannel.notify(
                client.client_id, client.backchannel_logout_uri, subject, None
            )
    for families in (await services.refresh_tokens.grants_of_account(account.id)).values():
        for family_id in families:
            await revoke_family(services, family_id, "account closed")
    erasure = AccountErasure(services.database, services.audit, services.master_key, services.clock)
    await erasure.erase(account.id, request=request)
    return frontchannel
