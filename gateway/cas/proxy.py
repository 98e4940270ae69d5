"""Proxy authentication (CAS 3.0 §2.5.4, §2.7): a proxy-granting ticket handed to the app's
callback, and ``/proxy``, which turns it into proxy tickets for other CAS apps.

Only apps registered with ``cas_proxy`` (a city-wide decision) may proxy, and only to apps of
their own department. The callback must be https (http only on
loopback) and one of the app's own service URLs: the gateway calls no address an app merely
names. A proxy ticket is issued only when the target app's access policy admits the person."""

from __future__ import annotations

import httpx
from starlette.requests import Request
from starlette.responses import Response

from gateway.cas import responses
from gateway.cas.apps import cas_apps
from gateway.cas.attributes import attributes_for
from gateway.cas.responses import Refused
from gateway.cas.tickets import PROXY_TICKET, ProxyGrantingTicket, Ticket, new_ticket
from gateway.identity.claims import sector_of, subject_for
from gateway.server.forms import FormError, parse_params
from gateway.server.services import Services
from policies.app_lifecycle import in_service
from policies.cas_services import service_matches
from policies.redirect_uris import https_or_loopback_problem
from store.errors import Unavailable
from store.records import AuditEvent, Client


async def grant_proxying(
    request: Request, client: Client, ticket: Ticket, pgt_url: str
) -> str | None:
    """A proxy-granting ticket sent to ``pgt_url``; its IOU, or None when the callback did not
    answer 200 (§2.5.4: the validation succeeds then, without one)."""
    if not client.cas_proxy:
        raise Refused(responses.UNAUTHORIZED_SERVICE_PROXY, "This app may not proxy")
    if https_or_loopback_problem(pgt_url) or not service_matches(pgt_url, client.service_urls):
        raise Refused(
            responses.INVALID_PROXY_CALLBACK,
            "The proxy callback must be https and one of the app's service URLs",
        )
    apps = cas_apps(request)
    pgt = ProxyGrantingTicket(
        client_id=client.client_id,
        account_id=ticket.account_id,
        sid=ticket.sid,
        act_for=ticket.act_for,
        proxies=[pgt_url, *ticket.proxies],
    )
    pgt_id, iou = await apps.tickets.grant_proxying(pgt)
    try:
        answer = await apps.http.get(pgt_url, params={"pgtId": pgt_id, "pgtIou": iou})
    except httpx.HTTPError:
        return None
    return iou if answer.status_code == 200 else None


async def proxy_endpoint(request: Request) -> Response:
    """``/proxy`` (§2.7): a proxy ticket for ``targetService``."""
    try:
        params = parse_params(request.url.query)
    except FormError as error:
        return responses.proxy_failure(responses.INVALID_REQUEST, error.description, False)
    as_json = params.get("format", "XML").upper() == "JSON"
    try:
        value = await _proxy_ticket(request, params)
    except Refused as refused:
        return responses.proxy_failure(refused.code, refused.description, as_json)
    except Unavailable:
        return responses.proxy_failure(responses.INTERNAL_ERROR, "Temporarily unavailable", as_json)
    return responses.proxy_success(value, as_json)


async def _proxy_ticket(request: Request, params: dict[str, str]) -> str:
    services: Services = request.app.state.services
    apps = cas_apps(request)
    pgt_id, target_service = params.get("pgt"), params.get("targetService")
    if not pgt_id or not target_service:
        raise Refused(responses.INVALID_REQUEST, "'pgt' and 'targetService' are both required")
    pgt = await apps.tickets.proxy_granting(pgt_id)
    session = await services.sessions.get(pgt.sid) if pgt is not None else None
    proxying = await services.clients.get(pgt.client_id) if pgt is not None else None
    if proxying is not None and not in_service(proxying.state):
        proxying = None  # an app out of service proxies for nobody
    if pgt is None or session is None or proxying is None or not proxying.cas_proxy:
        raise Refused(responses.INVALID_TICKET, "The proxy-granting ticket is not valid")
    target = await apps.for_service(target_service)
    account = await services.accounts.current(pgt.account_id)
    if target is not None and not in_service(target.state):
        target = None
    if target is None or account is None or account.disabled:
        raise Refused(responses.UNAUTHORIZED_SERVICE, "The target service is not registered")
    if target.department_id != proxying.department_id:
        # A proxy signs the person in to the target: never across departments.
        await services.audit.record(
            AuditEvent(
                "authorize.denied",
                outcome="denied",
                actor=account.id,
                client_id=target.client_id,
                check="proxy_department",
                details={"protocol": "cas", "proxied_by": proxying.client_id},
            ),
            request=request,
        )
        raise Refused(responses.UNAUTHORIZED_SERVICE, "The app may not proxy to that service")
    verdict = await services.access.decide(account, target.client_id, session.acr, session.amr)
    if verdict.decision.outcome != "allow":
        await services.audit.record(
            AuditEvent(
                "authorize.denied",
                outcome="denied",
                actor=account.id,
                client_id=target.client_id,
                check=verdict.decision.check,
                details={"reason": verdict.decision.reason, "protocol": "cas", "proxy": True},
            ),
            request=request,
        )
        raise Refused(responses.UNAUTHORIZED_SERVICE, "The person may not use that service")
    sign_in = {"auth_time": session.auth_time, "acr": session.acr, "amr": session.amr,
               "new": False}  # fmt: skip
    value = new_ticket(PROXY_TICKET)
    user = subject_for(target, account.id, services.pairwise_key)
    if target.subject_type == "pairwise":
        await services.subjects.remember(sector_of(target), user, account.id)
    await apps.tickets.issue(
        value,
        Ticket(
            client_id=target.client_id,
            service=target_service,
            user=user,
            account_id=account.id,
            sid=session.sid,
            primary=False,
            attributes=await attributes_for(
                services, target, account, verdict, pgt.act_for, sign_in
            ),
            proxies=pgt.proxies,
            act_for=pgt.act_for,
        ),
    )
    services.audit.queue(
        AuditEvent(
            "authorize.granted",
            actor=account.id,
            client_id=target.client_id,
            details={"protocol": "cas", "proxied_by": proxying.client_id},
        ),
        request=request,
    )
    return value
