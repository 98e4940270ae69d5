"""``/cas/login`` as credential requestor (CAS 3.0 §2.1, §2.2): a service ticket from the SSO
session, or the sign-in pages first. The steps are the authorization endpoint's own
(``policies/authorization.py``, the app's access policy, step-up, acting for an enterprise,
the denied page, the audit), so a CAS app is admitted exactly as an OIDC app would be."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway.cas.apps import cas_apps
from gateway.cas.attributes import attributes_for
from gateway.cas.tickets import SERVICE_TICKET, Ticket, new_ticket
from gateway.endpoints.authorize import step_up
from gateway.endpoints.end_session import SESSIONS_PATH
from gateway.endpoints.responses import deliver, error_page, with_params
from gateway.endpoints.transaction import Transaction, load_transaction, save_transaction
from gateway.endpoints.visit import Visit, admission, record_denial, sign_in_facts
from gateway.identity.claims import sector_of
from gateway.identity.sessions import SessionApp
from gateway.pages.access_denied import denied_page
from gateway.server.forms import FormError, parse_params
from gateway.server.services import Services
from policies.app_lifecycle import in_service
from policies.authorization import Step, next_step
from store import kv_keys
from store.records import AuditEvent, Client

LOGIN_PATH = "/cas/login"
RESUME_PATH = "/cas/login/resume"


def is_set(params: dict[str, str], name: str) -> bool:
    """§2.1.1: ``renew`` and ``gateway`` count when present (``true`` recommended), unless
    ``false``."""
    return name in params and params[name].lower() != "false"


async def login_endpoint(request: Request) -> Response:
    try:
        params = parse_params(request.url.query)
    except FormError as error:
        return error_page(request, {}, "error_invalid_request", error.description)
    service = params.get("service")
    if not service:
        return await _without_service(request)
    client = await cas_apps(request).for_service(service)
    if client is None:
        # §2.2.1: never a redirect to a service that is not registered (and, as for an unknown
        # OAuth client, no audit entry: anyone could write those by the thousand).
        return error_page(request, {}, "error_invalid_client")
    if not in_service(client.state):
        return error_page(request, {}, "error_app_out_of_service")
    wanted = {"client_id": client.client_id, "service": service}
    if is_set(params, "renew"):
        wanted["prompt"] = "login"  # §2.1.1: renew wins over gateway
    elif is_set(params, "gateway"):
        wanted["prompt"] = "none"
    if params.get("method", "").upper() == "POST":
        wanted["response_mode"] = "form_post"  # §2.1.1 method: the ticket in a posted form
    return await _go_on(request, client, Visit(request, wanted, None, None))


async def resume_endpoint(request: Request) -> Response:
    """Back from the sign-in, second factor or act-for pages (through the authorization
    endpoint's resumption, which sends CAS transactions here)."""
    services: Services = request.app.state.services
    tx_id = request.query_params.get("tx")
    tx = await load_transaction(services, request, tx_id)
    if tx is None or tx_id is None or tx.extra.get("resume") != RESUME_PATH:
        return error_page(request, {}, "expired")
    client = await services.clients.get(tx.params.get("client_id", ""))
    if client is None or client.protocol != "cas":
        return error_page(request, {}, "expired")
    if not in_service(client.state):
        return error_page(request, {}, "error_app_out_of_service")
    return await _go_on(request, client, Visit(request, tx.params, tx, tx_id))


async def _without_service(request: Request) -> Response:
    """No service (§2.1.1): sign in if needed, then the person's own sessions page."""
    services: Services = request.app.state.services
    session = await services.sessions.from_cookie(
        request.cookies.get(services.sessions.cookie_name)
    )
    if session is not None:
        return RedirectResponse(SESSIONS_PATH, status_code=303)
    browser, new_browser = services.csrf.browser_id(request)
    tx_id = await save_transaction(
        services, Transaction(params={}, browser=browser, return_to=SESSIONS_PATH)
    )
    response = RedirectResponse(f"/login?tx={tx_id}", status_code=303)
    if new_browser:
        services.csrf.set_cookie(response, browser)
    return response


async def _go_on(request: Request, client: Client, visit: Visit) -> Response:
    visit.client = client
    visit.tx_extra = {"resume": RESUME_PATH}  # the pages come back here
    facts, _ = await sign_in_facts(visit)
    step = next_step(facts)
    if step.outcome == "access":
        act_for = await admission(visit, None)
        assert visit.verdict is not None
        facts = replace(facts, access=visit.verdict.decision, act_for=act_for)
        step = next_step(facts)
    service = visit.params["service"]
    match step.outcome:
        case "login_required":
            # §2.1.1 gateway: back to the service without a ticket, nothing asked.
            return RedirectResponse(service, status_code=303)
        case "sign_in":
            return await visit.page("/login")
        case "step_up":
            return await step_up(visit, step)
        case "act_for":
            return await visit.page("/act-for")
        case "denied":
            return await _denied(visit, step)
    return await _issue(visit, facts.signed_in_here)


async def _denied(visit: Visit, step: Step) -> Response:
    decision = step.decision
    assert decision is not None and visit.end_user is not None
    await record_denial(visit, decision, "cas")
    service = visit.params["service"]
    if visit.params.get("prompt") == "none":
        return RedirectResponse(service, status_code=303)
    return denied_page(visit.request, visit.client, visit.params, decision, service, {}, service)


async def _issue(visit: Visit, new_sign_in: bool) -> Response:
    """A service ticket for the service (§3.1), recorded in the session for single logout."""
    services: Services = visit.request.app.state.services
    end_user, client, session, verdict = visit.end_user, visit.client, visit.session, visit.verdict
    assert end_user is not None and session is not None and verdict is not None
    service = visit.params["service"]
    sign_in = {"auth_time": session.auth_time, "acr": session.acr, "amr": session.amr,
               "new": new_sign_in}  # fmt: skip
    attributes = await attributes_for(
        services, client, end_user.account, verdict, end_user.act_for, sign_in
    )
    value = new_ticket(SERVICE_TICKET)
    ticket = Ticket(
        client_id=client.client_id,
        service=service,
        user=end_user.subject,
        account_id=end_user.account.id,
        sid=session.sid,
        primary=new_sign_in,
        attributes=attributes,
        act_for=end_user.act_for,
    )
    writes = [
        # Before the ticket exists: a logout from now on will notify this service.
        services.sessions.add_app(
            session.sid,
            SessionApp("cas", client.client_id, (("service", service), ("ticket", value))),
        ),
        cas_apps(visit.request).tickets.issue(value, ticket),
    ]
    if client.subject_type == "pairwise":
        writes.append(
            services.subjects.remember(sector_of(client), end_user.subject, end_user.account.id)
        )
    if visit.tx_id:
        writes.append(services.expiring.delete(kv_keys.transaction(visit.tx_id)))
    await asyncio.gather(*writes)
    services.audit.queue(
        AuditEvent(
            "authorize.granted",
            actor=end_user.account.id,
            client_id=client.client_id,
            details={"protocol": "cas", "service": service, "act_for": end_user.act_for},
        ),
        request=visit.request,
    )
    if visit.params.get("response_mode") == "form_post":
        return deliver(visit.request, service, {"ticket": value}, "form_post")
    return RedirectResponse(with_params(service, {"ticket": value}), status_code=303)
