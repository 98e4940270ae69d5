"""扫码登录 on the PC: the sign-in page's QR tab, its long-poll, and the finish.

The page shows a fresh ticket's URL as a QR code and as a link. Its script long-polls
``/login/scan/wait`` (one request open at a time, answered when the ticket moves on or after
25 s) and, once the app confirmed, posts the finish form; without JavaScript the page
refreshes itself every few seconds and offers the same form. The finish goes on exactly as a
password sign-in (``sign_in.signed_in``), with ``mca`` before the app session's own amr."""

from __future__ import annotations

import secrets

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from gateway.endpoints.authorize import error_page
from gateway.endpoints.transaction import (
    Transaction,
    load_transaction,
    posted_form,
    transaction_entry,
)
from gateway.identity import rate_limits
from gateway.mobile.api import TICKET_PAGE_PREFIX
from gateway.mobile.tickets import ScanTickets, ticket_digest
from gateway.mobile.waiting import ScanWaiters
from gateway.pages.federated_login import SignIn
from gateway.pages.qr import qr_svg
from gateway.pages.render import form_action, messages, page, request_locale
from gateway.pages.sign_in import client_view, locale_of, signed_in
from gateway.pages.sign_in_place import browser_of
from gateway.server.services import Services
from store import kv_keys

SCAN_PATH = "/login/scan"
WAIT_PATH = "/login/scan/wait"
CSRF_PURPOSE = "scan"
LONG_POLL_SECONDS = 25.0
NO_SCRIPT_REFRESH_SECONDS = 5
# Every sign-in page draws a new code: a fixed mask (any reader decodes all eight) spares
# segno scoring all eight, most of the page's CPU (bench/README.md, the mobile scenarios).
SCAN_QR_MASK = 0
_STATUS = {
    "waiting": "scan_waiting",
    "scanned": "scan_scanned",
    "confirmed": "scan_confirmed",
    "refused": "scan_refused",
    "expired": "scan_expired",
}


def _machinery(request: Request) -> tuple[Services, ScanTickets, ScanWaiters]:
    state = request.app.state
    return state.services, state.scan_tickets, state.scan_waiters


async def _new_ticket(request: Request, tx_id: str, tx: Transaction) -> str | None:
    services, tickets, _ = _machinery(request)
    made = await rate_limits.hit(
        services.expiring,
        kv_keys.scan_tickets_per_browser(tx.browser),
        rate_limits.SCAN_TICKETS_PER_BROWSER,
    )
    if not rate_limits.SCAN_TICKETS_PER_BROWSER.allows(made):
        return None
    client_name, _ = await client_view(services, tx)
    ip = request.client.host if request.client else "unknown"
    browser = browser_of(request.headers.get("user-agent", ""))
    ticket, written = tickets.new(tx_id, tx.params.get("client_id", ""), client_name, ip, browser)
    tx.extra["scan_ticket"] = ticket
    await tickets.write(written, transaction_entry(tx_id, tx))
    return ticket


async def scan_page(request: Request) -> Response:
    services, tickets, _ = _machinery(request)
    tx_id = request.query_params.get("tx", "")
    tx = await load_transaction(services, request, tx_id)
    if tx is None:
        return error_page(request, {}, "expired")
    if tx.extra.get("step_up") or not services.settings.mobile_app_clients:
        return RedirectResponse(f"/login?tx={tx_id}", status_code=303)
    ticket = tx.extra.get("scan_ticket")
    seen = await tickets.seen(ticket_digest(ticket)) if ticket else None
    # A new code only when asked for and the last one is over (a reload keeps the code shown).
    over = seen is not None and seen.state in ("expired", "refused")
    state, error = seen.state if seen else "expired", None
    if seen is None or (over and request.query_params.get("new") == "1"):
        ticket = await _new_ticket(request, tx_id, tx)
        # A new random ticket has no scan or answer yet: no need to read it back.
        state, error = ("waiting", None) if ticket else ("expired", "scan_too_many")
    return await _render(request, tx_id, tx, ticket, state, error)


async def _render(
    request: Request,
    tx_id: str,
    tx: Transaction,
    ticket: str | None,
    state: str,
    error: str | None,
    status: int = 200,
) -> Response:
    services = request.app.state.services
    locale = locale_of(request, tx)
    t = messages(locale)
    client_name, action_sources = await client_view(services, tx)
    url = f"{services.settings.issuer}{TICKET_PAGE_PREFIX}{ticket}" if ticket else None
    nonce = secrets.token_urlsafe(16)
    return page(
        request,
        "scan_login.html",
        locale,
        {
            "tx": tx_id,
            "method": "scan",
            "local": True,
            "scan_tab": True,
            "client_name": client_name,
            "csrf_token": services.csrf.token(tx.browser, f"{CSRF_PURPOSE}:{tx_id}"),
            "action": SCAN_PATH,
            "wait_url": f"{WAIT_PATH}?tx={tx_id}",
            "qr": qr_svg(url, SCAN_QR_MASK) if url and state in ("waiting", "scanned") else None,
            "url": url,
            "state": state,
            "status": t[_STATUS[state]],
            "error": t[error] if error else None,
            "refresh": NO_SCRIPT_REFRESH_SECONDS if state in ("waiting", "scanned") else None,
            "script_nonce": nonce,
        },
        status=status,
        form_action=action_sources,
        script_nonce=nonce,
        connect_self=True,
    )


async def wait(request: Request) -> Response:
    """The long-poll: the ticket's state once it differs from ``since`` (or after 25 s)."""
    _, tickets, waiters = _machinery(request)
    found = await _awaited(request)
    if found is None:
        return _state_answer("expired")
    digest, state, seconds = found
    if seconds > 0:
        await waiters.wait(digest, seconds)
        state = (await tickets.seen(digest)).state
    return _state_answer(state)


async def _awaited(request: Request) -> tuple[str, str, float] | None:
    """The page's ticket (its digest), its state, and how long to wait for it to differ from
    ``since`` (0: it does). The transaction and the ticket's record end with this call: a
    waiting page holds none of them."""
    services, tickets, _ = _machinery(request)
    query = QueryParams(request.scope["query_string"])
    tx = await load_transaction(services, request, query.get("tx", ""))
    ticket = tx.extra.get("scan_ticket") if tx is not None else None
    if not ticket:
        return None
    digest = ticket_digest(ticket)
    seen = await tickets.seen(digest)
    if seen.state != query.get("since", "waiting") or seen.ticket is None:
        return digest, seen.state, 0.0
    left = seen.ticket.expires_at - services.clock.now()
    return digest, seen.state, max(0.0, min(LONG_POLL_SECONDS, left + 0.5))


def _state_answer(state: str) -> Response:
    return JSONResponse({"state": state}, headers={"Cache-Control": "no-store"})


async def finish(request: Request) -> Response:
    """The PC's sign-in, once the app confirmed: exactly once per ticket."""
    services, tickets, _ = _machinery(request)
    posted = await posted_form(request, CSRF_PURPOSE)
    tx_id = posted[1] if posted else ""
    tx = await load_transaction(services, request, tx_id) if posted else None
    if tx is None:
        return error_page(request, {}, "expired")
    ticket = tx.extra.get("scan_ticket")
    digest = ticket_digest(ticket) if ticket else None
    outcome = await tickets.finish(digest) if digest else None
    account = await services.accounts.current(outcome.account_id) if outcome else None
    if outcome is None or account is None or account.disabled:
        seen = await tickets.seen(digest) if digest else None
        state = seen.state if seen else "expired"
        return await _render(request, tx_id, tx, ticket, state, None, status=400)
    tx.extra.pop("scan_ticket", None)
    result = SignIn(account=account, acr=outcome.acr or account.assurance, idp_subject=account.id)
    amr = list(dict.fromkeys(["mca", *outcome.amr]))
    return await signed_in(request, tx_id, tx, result, amr)


async def ticket_page(request: Request) -> Response:
    """The QR code's URL opened in a browser rather than the app: say where to open it."""
    locale = request_locale(request)
    return page(request, "scan_ticket.html", locale, {}, form_action=form_action())
