"""实名认证: a person raises their own real-name level on the account page (a two-element
check of name and ID number for L2, the 网号/网证 for L3). The level, the method and the time
are kept as evidence, the change is audited, and the session's acr follows, so the next token
an app receives says the new level. Sent here by an app that needs a higher level (``tx``),
the person goes back to that authorization afterwards."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway.account.guard import locale, sign_in_first
from gateway.account.pages import account_form
from gateway.endpoints.authorize import (
    REAL_NAME_PATH,
    RESUME_PATH,
    error_page,
    load_transaction,
)
from gateway.identity.real_name import METHOD_LEVELS
from gateway.identity.real_name.levels import Outcome
from gateway.identity.sessions import SsoSession
from gateway.pages.render import Messages, messages, page
from gateway.pages.second_factor import current_session
from gateway.pages.sms_sending import client_ip
from gateway.server.services import Services
from policies.assurance import stronger
from store.records import AuditEvent

PURPOSE = "account-real-name"


async def _valid_tx(request: Request, tx_id: str) -> str:
    """``tx_id`` when it names an authorization waiting in this browser, else ""."""
    services: Services = request.app.state.services
    return tx_id if tx_id and await load_transaction(services, request, tx_id) else ""


async def _form(
    request: Request,
    session: SsoSession,
    tx_id: str,
    *,
    error: str | None = None,
    notice: str | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    services: Services = request.app.state.services
    browser, new_browser = services.csrf.browser_id(request)
    account = await services.accounts.get(session.account_id)
    if account is None:
        return error_page(request, {}, "expired")
    latest = await services.real_name.latest(account.id)
    t = messages(locale(request))
    response = page(
        request,
        "account_real_name.html",
        locale(request),
        {
            "level": account.assurance,
            "level_label": t[f"real_name_level_{account.assurance}"],
            "evidence": {
                "method": t[f"real_name_method_{latest.method}"],
                "time": datetime.fromtimestamp(latest.checked_at, UTC).strftime(
                    "%Y-%m-%d %H:%M UTC"
                ),
            }
            if latest
            else None,
            "methods": services.real_name.methods_for(account),
            "kind": account.kind,
            "offered": services.real_name.checker is not None,
            "tx": tx_id,
            "csrf_token": services.csrf.token(browser, PURPOSE),
            "action": REAL_NAME_PATH,
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


async def real_name_page(request: Request) -> Response:
    tx_id = await _valid_tx(request, request.query_params.get("tx", ""))
    session = await current_session(request)
    if session is None:
        return await sign_in_first(request, REAL_NAME_PATH)
    notice = None
    if tx_id:
        t = messages(locale(request))
        notice = t.real_name_needed
    return await _form(request, session, tx_id, notice=notice)


def _error(t: Messages, outcome: Outcome) -> tuple[str, int]:
    match outcome.result:
        case "limited":
            return t.locked.format(minutes=max(1, -(-outcome.retry_after // 60))), 429
        case "unavailable":
            return t.real_name_unavailable, 503
        case "bad_number":
            return t.real_name_bad_number, 400
        case "taken":
            return t.real_name_taken, 409
        case "not_offered":
            return t.real_name_not_offered, 400
    return t.real_name_mismatch, 400


async def real_name_submit(request: Request) -> Response:
    services: Services = request.app.state.services
    posted = await account_form(request, PURPOSE)
    if posted is None:
        return error_page(request, {}, "expired")
    form, session = posted
    tx_id = await _valid_tx(request, form.get("tx", ""))
    t = messages(locale(request))
    account = await services.accounts.get(session.account_id)
    if account is None:
        return error_page(request, {}, "expired")
    method = form.get("method", "")
    outcome = await services.real_name.raise_level(
        account,
        method,
        form.get("name", ""),
        form.get("national_id", ""),
        form.get("evidence", ""),
        client_ip(request),
    )
    details: dict[str, object] = {"method": method, "result": outcome.result}
    if outcome.result != "raised":
        if outcome.reason:
            details["reason"] = outcome.reason
        await services.audit.record(
            AuditEvent(
                "account.real_name_failed",
                outcome="failure",
                actor=account.id,
                target=account.id,
                details=details,
            ),
            request=request,
        )
        error, status = _error(t, outcome)
        headers = {"Retry-After": str(outcome.retry_after)} if outcome.retry_after else None
        return await _form(request, session, tx_id, error=error, status=status, headers=headers)
    level = outcome.level or METHOD_LEVELS[method]
    await services.sessions.raise_acr(session, stronger(session.acr, level))
    await services.audit.record(
        AuditEvent(
            "account.real_name_raised",
            actor=account.id,
            target=account.id,
            details={**details, "from": account.assurance, "to": level},
        ),
        request=request,
    )
    await services.notices.send(
        account.id, "real_name", t.notice_real_name.format(level=level), request
    )
    if tx_id:
        return RedirectResponse(f"{RESUME_PATH}?tx={tx_id}", status_code=303)
    return await _form(
        request, session, "", notice=t.real_name_raised.format(level=t[f"real_name_level_{level}"])
    )
