"""The verification page of the device grant (RFC 8628 §3.3): type the user code shown on the
kiosk (or open ``verification_uri_complete``, where it is filled in but still confirmed, §5.4),
sign in, see which app asks for what, and allow or refuse.

User codes are counted per address and overall before they are looked up (§5.1). The access
policy decides as it does for the code flow, and an allowed app's consent is kept."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway.endpoints.transaction import (
    Transaction,
    load_transaction,
    save_transaction,
    signed_in_step,
    update_transaction,
)
from gateway.identity import expiry_sweep, rate_limits
from gateway.identity.access import app_claims
from gateway.identity.claims import sector_of, subject_for
from gateway.identity.sessions import SsoSession
from gateway.oauth.device_codes import (
    ALLOWED,
    GRACE_SECONDS,
    PENDING,
    REFUSED,
    VERIFICATION_PATH,
    DeviceRecord,
    normalise_user_code,
    shown_user_code,
)
from gateway.pages.qr import qr_svg
from gateway.pages.render import messages, page, request_locale
from gateway.server.forms import FormError, read_form
from gateway.server.services import Services
from store import kv_keys
from store.records import AuditEvent

DECIDE_PATH = "/device/decide"
QR_PATH = "/device/qr.svg"
ENTER_PURPOSE = "device"
DECIDE_PURPOSE = "device-decide"


def _locale(request: Request, tx: Transaction | None = None) -> str:
    return request_locale(request, tx.params.get("ui_locales") if tx else None)


def _ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _enter_form(
    request: Request, user_code: str = "", error: str | None = None, status: int = 200
) -> Response:
    services: Services = request.app.state.services
    browser, new = services.csrf.browser_id(request)
    response = page(
        request,
        "device.html",
        _locale(request),
        {
            "step": "enter",
            "action": VERIFICATION_PATH,
            "csrf_token": services.csrf.token(browser, ENTER_PURPOSE),
            "user_code": user_code[:16],
            "error": error,
        },
        status=status,
    )
    if new:
        services.csrf.set_cookie(response, browser)
    return response


def _message(
    request: Request, key: str, tx: Transaction | None = None, status: int = 400
) -> Response:
    locale = _locale(request, tx)
    context = {"step": "message", "message": messages(locale)[key], "done": status == 200}
    return page(request, "device.html", locale, context, status=status)


async def qr_code(request: Request) -> Response:
    """``verification_uri_complete`` as a QR code (SVG) for a kiosk to show; only for
    something shaped like a user code, so it draws nothing else."""
    services: Services = request.app.state.services
    letters = normalise_user_code(request.query_params.get("user_code", ""))
    if letters is None:
        return Response("user_code: 8 letters of BCDFGHJKLMNPQRSTVWXZ", status_code=400)
    url = f"{services.settings.issuer}{VERIFICATION_PATH}?user_code={shown_user_code(letters)}"
    return Response(qr_svg(url), media_type="image/svg+xml", headers={"Cache-Control": "no-store"})


async def device_page(request: Request) -> Response:
    tx_id = request.query_params.get("tx")
    if tx_id:
        return await _review(request, tx_id)
    return _enter_form(request, request.query_params.get("user_code", ""))


async def _pending(services: Services, code_digest: str) -> DeviceRecord | None:
    raw = await services.expiring.get(kv_keys.device_code(code_digest))
    record = DeviceRecord.from_bytes(raw) if raw else None
    if record is None or record.status != PENDING or record.expires_at <= services.clock.now():
        return None
    return record


async def _within_limits(services: Services, ip: str) -> bool:
    """Count a typed user code per address, then overall (RFC 8628 §5.1), before it is looked
    up; a try the address's own limit refuses does not count toward the overall budget."""
    return await rate_limits.hit_keyed_then_shared(
        services.expiring,
        [(kv_keys.device_user_code_tries(ip), rate_limits.DEVICE_USER_CODES_PER_ADDRESS)],
        (kv_keys.device_user_code_tries_overall(), rate_limits.DEVICE_USER_CODES_OVERALL),
    )


async def enter_code(request: Request) -> Response:
    """The typed user code: counted, looked up, then on to sign-in (or straight to review)."""
    services: Services = request.app.state.services
    try:
        form = await read_form(request, services.settings.max_form_bytes)
    except FormError:
        return _enter_form(request, status=400)
    t = messages(_locale(request))
    typed = form.get("user_code", "")
    if not services.csrf.valid(request, form.get("csrf_token"), ENTER_PURPOSE):
        return _enter_form(request, typed, t.device_form_expired, 400)
    if not await _within_limits(services, _ip(request)):
        await services.audit.record(
            AuditEvent("device.code_limited", outcome="failure", check="user_code_rate"),
            request=request,
        )
        return _enter_form(request, typed, t.device_too_many, 429)
    letters = normalise_user_code(typed)
    found = await services.expiring.get(kv_keys.device_user_code(letters)) if letters else None
    record = await _pending(services, found.decode()) if found else None
    if record is None or letters is None or found is None:
        await services.audit.record(
            AuditEvent("device.code_unknown", outcome="failure", check="user_code"),
            request=request,
        )
        return _enter_form(request, typed, t.device_code_unknown, 400)
    browser = request.cookies.get(services.csrf.cookie_name, "")
    params = {"client_id": record.client_id, "scope": record.scope}
    if request.query_params.get("ui_locales"):
        params["ui_locales"] = request.query_params["ui_locales"]
    tx = Transaction(params=params, browser=browser, extra={"device": found.decode()})
    tx_id = await save_transaction(services, tx)
    tx.return_to = f"{VERIFICATION_PATH}?tx={tx_id}"
    await update_transaction(services, tx_id, tx)
    session = await _signed_in(services, request)
    where = tx.return_to if session is not None else f"/login?tx={tx_id}"
    return RedirectResponse(where, status_code=303)


async def _signed_in(services: Services, request: Request) -> SsoSession | None:
    return await services.sessions.from_cookie(request.cookies.get(services.sessions.cookie_name))


async def _review(request: Request, tx_id: str) -> Response:
    services: Services = request.app.state.services
    tx = await load_transaction(services, request, tx_id)
    if tx is None or "device" not in tx.extra:
        return _message(request, "device_expired")
    session = await _signed_in(services, request)
    if session is None:
        return RedirectResponse(f"/login?tx={tx_id}", status_code=303)
    record = await _pending(services, tx.extra["device"])
    client = await services.clients.in_service(tx.params["client_id"])
    if record is None or client is None:
        return _message(request, "device_expired", tx)
    refusal = await _refusal(services, session, client.client_id)
    if refusal is not None:
        return _message(request, refusal, tx, status=403)
    locale = _locale(request, tx)
    t = messages(locale)
    scopes = record.scope.split()
    return page(
        request,
        "device.html",
        locale,
        {
            "step": "review",
            "action": DECIDE_PATH,
            "tx": tx_id,
            "csrf_token": services.csrf.token(tx.browser, f"{DECIDE_PURPOSE}:{tx_id}"),
            "client_name": client.name,
            "user_code": shown_user_code(record.user_code),
            "scope_labels": [t.get(f"scope_{scope}", scope) for scope in scopes],
        },
    )


async def _refusal(services: Services, session: SsoSession, client_id: str) -> str | None:
    """Why the access policy refuses this person the app now (a message key), or None."""
    account = await services.accounts.current(session.account_id)
    if account is None or account.disabled:
        return "device_expired"
    verdict = await services.access.decide(account, client_id, session.acr, session.amr)
    if verdict.decision.outcome == "allow":
        return None
    return "device_step_up" if verdict.decision.outcome == "step_up" else "device_denied"


async def decide(request: Request) -> Response:
    """Allow or refuse (RFC 8628 §3.3): the record is answered once; the user code is spent."""
    services: Services = request.app.state.services
    step = await signed_in_step(request, DECIDE_PURPOSE)
    if step is None or "device" not in step.tx.extra:
        return _message(request, "device_expired")
    tx, session = step.tx, step.session
    code_digest = tx.extra["device"]
    record = await _pending(services, code_digest)
    client = await services.clients.in_service(tx.params["client_id"])
    account = await services.accounts.current(session.account_id)
    if record is None or client is None or account is None:
        return _message(request, "device_expired", tx)
    allow = step.form.get("decision") == "allow"
    if allow:
        verdict = await services.access.decide(account, client.client_id, session.acr, session.amr)
        if verdict.decision.outcome != "allow":
            return _message(request, "device_denied", tx, status=403)
        record.claims = await app_claims(
            services, account, client, verdict.org, verdict.document, None
        )
        record.account_id, record.subject = (
            account.id,
            subject_for(client, account.id, services.pairwise_key),
        )
        record.auth_time, record.amr, record.acr = session.auth_time, session.amr, session.acr
        if client.subject_type == "pairwise":  # UserInfo and the admin API map it back
            await services.subjects.remember(sector_of(client), record.subject, account.id)
        if client.require_consent:
            scopes = set(record.scope.split())
            now = services.clock.now()
            await services.consents.grant(account.id, client.client_id, scopes, now)
    record.status = ALLOWED if allow else REFUSED
    left = record.expires_at - services.clock.now()
    answered = left > 0 and await services.expiring.replace(
        kv_keys.device_code(code_digest), record.to_bytes(), left + GRACE_SECONDS
    )
    forgotten = services.expiring.delete(kv_keys.device_user_code(record.user_code))
    if answered and not allow:  # refused: not a code that expired unused
        code_key = kv_keys.device_code(code_digest)
        await asyncio.gather(
            forgotten, services.expiring.leave_ledger(expiry_sweep.DEVICE_CODE, code_key)
        )
    else:
        await forgotten
    if not answered:
        return _message(request, "device_expired", tx)
    await services.audit.record(
        AuditEvent(
            "device.allowed" if allow else "device.refused",
            outcome="success" if allow else "denied",
            actor=account.id,
            client_id=client.client_id,
            details={"scope": record.scope},
        ),
        request=request,
    )
    tx.extra.pop("device", None)
    await update_transaction(services, step.tx_id, tx)
    return _message(request, "device_done" if allow else "device_refused_done", tx, status=200)
