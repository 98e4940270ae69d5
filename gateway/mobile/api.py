"""The app's side of scan to sign in: scan a ticket (and see who asks), then confirm or refuse.

Each call carries the app's access token (``gateway/oauth/resource_access.py``; DPoP-bound
where the app is). Only the apps a city-wide setting lists (``MOBILE_APP_CLIENTS``) may scan.
Answers are JSON; refusals RFC 9457 problems with a ``reason`` (``ticket_used``,
``ticket_expired``, ``not_scanned``, ``not_the_scanner``)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.identity import rate_limits
from gateway.identity.claims import sector_of
from gateway.mobile.tickets import Claim, Outcome, ScanTickets, ticket_digest
from gateway.mobile.waiting import ScanWaiters
from gateway.oauth.resource_access import AccessRefused, presented_access
from gateway.pages.render import messages
from gateway.pages.sign_in_place import region_text
from gateway.server.forms import FormError, read_form
from gateway.server.json_body import parse_json
from gateway.server.responses import Clash, Forbidden, Malformed, Problem
from gateway.server.services import Services
from store import kv_keys
from store.records import AuditEvent

SCAN_PATH = "/mobile/scan"
CONFIRM_PATH = "/mobile/scan/confirm"
REFUSE_PATH = "/mobile/scan/refuse"
TICKET_PAGE_PREFIX = "/scan/"
_MAX_TICKET = 64


class Gone(Problem):
    status, slug, title = 410, "ticket-expired", "The ticket has expired"


class TooMany(Problem):
    status, slug, title = 429, "too-many-requests", "Too many requests"


def _refused(reason: str) -> Response:
    kind = Gone if reason == "ticket_expired" else Clash
    return kind(f"The ticket cannot be used: {reason}.", reason=reason).response()


async def _ticket_of(request: Request, services: Services) -> str | None:
    """The ticket from a JSON or form body: the ticket itself, or the URL the QR code holds."""
    try:
        if request.headers.get("content-type", "").startswith("application/json"):
            body: Any = parse_json(await request.body())
        else:
            body = await read_form(request, services.settings.max_form_bytes)
    except (FormError, ValueError):
        return None
    ticket = body.get("ticket") if isinstance(body, dict) else None
    if not isinstance(ticket, str):
        return None
    ticket = ticket.removeprefix(services.settings.issuer + TICKET_PAGE_PREFIX)
    return ticket if 0 < len(ticket) <= _MAX_TICKET else None


async def _app_caller(request: Request) -> tuple[Claim, dict[str, Any], str] | Response:
    """The scanning app's claim, its token's claims and its ticket; or the refusal."""
    services: Services = request.app.state.services
    try:
        claims = (await presented_access(services, request)).claims
    except AccessRefused as refused:
        return refused.response()
    client_id = str(claims.get("client_id"))
    if client_id not in services.settings.mobile_app_clients or "auth_time" not in claims:
        return Forbidden("Only the city's own apps, for a signed-in person, may scan.").response()
    client = await services.clients.in_service(client_id)  # a suspended app scans nothing
    account_id = str(claims.get("sub"))
    if client is not None and client.subject_type == "pairwise":
        account_id = await services.subjects.account_of(sector_of(client), account_id) or ""
    account = await services.accounts.current(account_id) if account_id else None
    if client is None or account is None or account.disabled:
        return Forbidden("The app's account is not available.").response()
    ticket = await _ticket_of(request, services)
    if ticket is None:
        return Malformed("Send the scanned ticket as 'ticket'.").response()
    sid = claims.get("sid")
    return Claim(account.id, client_id, sid if isinstance(sid, str) else None), claims, ticket


def _machinery(request: Request) -> tuple[Services, ScanTickets, ScanWaiters]:
    state = request.app.state
    return state.services, state.scan_tickets, state.scan_waiters


async def scan(request: Request) -> Response:
    """The app scanned a QR code: claim the ticket, show the person who asks (the draft's
    context: the app signed in to, the PC's address and browser)."""
    services, tickets, waiters = _machinery(request)
    caller = await _app_caller(request)
    if isinstance(caller, Response):
        return caller
    claim, _, ticket = caller
    seen = await rate_limits.hit(
        services.expiring,
        kv_keys.scans_per_account(claim.account_id),
        rate_limits.SCANS_PER_ACCOUNT,
    )
    if not rate_limits.SCANS_PER_ACCOUNT.allows(seen):
        return TooMany("Too many scans; wait a few minutes.").response()
    digest = ticket_digest(ticket)
    scanned, reason = await tickets.scan(digest, claim)
    await services.audit.record(
        AuditEvent(
            "scan.scanned",
            outcome="success" if scanned else "failure",
            actor=claim.account_id,
            client_id=claim.client_id,
            check=reason,
            details={"pc_ip": scanned.ip if scanned else None},
        ),
        request=request,
    )
    if scanned is None:
        return _refused(reason or "ticket_expired")
    await waiters.wake(digest)
    region = services.places.regions.resolve(scanned.ip)
    return JSONResponse(
        {
            "state": "scanned",
            "expires_in": max(0, int(scanned.expires_at - services.clock.now())),
            "client": {"client_id": scanned.client_id, "name": scanned.client_name},
            "pc": {
                "ip": scanned.ip,
                "browser": scanned.browser,
                "location": region_text(region, messages("zh-CN")),
                "region": region.as_dict(),
            },
        },
        headers={"Cache-Control": "no-store"},
    )


async def _answer(request: Request, confirmed: bool) -> Response:
    services, tickets, waiters = _machinery(request)
    caller = await _app_caller(request)
    if isinstance(caller, Response):
        return caller
    claim, claims, ticket = caller
    amr: list[str] = []
    if claim.sid is not None:
        session = await services.sessions.get(claim.sid)
        amr = list(session.amr) if session is not None else []
    status = "confirmed" if confirmed else "refused"
    acr = claims.get("acr")
    outcome = Outcome(status, claim.account_id, amr, acr if isinstance(acr, str) else None)
    digest = ticket_digest(ticket)
    reason = await tickets.answer(digest, claim, outcome)
    await services.audit.record(
        AuditEvent(
            f"scan.{status}",
            outcome="failure" if reason else "success" if confirmed else "denied",
            actor=claim.account_id,
            client_id=claim.client_id,
            check=reason,
        ),
        request=request,
    )
    if reason is not None:
        return _refused(reason)
    await waiters.wake(digest)
    return JSONResponse({"state": status}, headers={"Cache-Control": "no-store"})


async def confirm(request: Request) -> Response:
    return await _answer(request, True)


async def refuse(request: Request) -> Response:
    return await _answer(request, False)
