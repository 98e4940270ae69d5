"""Ticket validation: ``/validate`` (CAS 1.0, only for apps that enable it, §2.4),
``/serviceValidate`` and ``/p3/serviceValidate`` (service tickets, §2.5, §2.8),
``/proxyValidate`` and ``/p3/proxyValidate`` (service and proxy tickets, §2.6, §2.9).

A ticket is taken from the store before anything is checked: whatever the outcome, it cannot
be presented again (§3.1.1). Every answer is the protocol's own; never a stack trace."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from gateway.cas import responses
from gateway.cas.apps import cas_apps
from gateway.cas.login import is_set
from gateway.cas.proxy import grant_proxying
from gateway.cas.responses import Refused
from gateway.cas.tickets import Ticket
from gateway.server.forms import FormError, parse_params
from gateway.server.services import Services
from policies.app_lifecycle import in_service
from store.errors import Unavailable
from store.records import AuditEvent, Client


def _mention(ticket: str) -> str:
    """A presented ticket in an error, cut short (it is the caller's own input)."""
    return ticket if len(ticket) <= 64 else ticket[:64] + "…"


async def _checked(request: Request, params: dict[str, str], proxies: bool) -> Ticket:
    """The ticket presented, taken and checked against the service and ``renew``."""
    services: Services = request.app.state.services
    service, value = params.get("service"), params.get("ticket")
    if not service or not value:
        raise Refused(responses.INVALID_REQUEST, "'service' and 'ticket' are both required")
    ticket = await cas_apps(request).tickets.take(value)
    if ticket is None:
        raise Refused(responses.INVALID_TICKET, f"Ticket {_mention(value)} not recognized")
    if ticket.is_proxy_ticket and not proxies:
        # §2.5: /serviceValidate MUST NOT accept proxy tickets.
        raise Refused(
            responses.INVALID_TICKET_SPEC, "Proxy tickets are validated at /proxyValidate"
        )
    if ticket.service != service:
        await services.audit.record(
            AuditEvent(
                "cas.ticket_refused",
                outcome="failure",
                client_id=ticket.client_id,
                check="service",
                details={"service": service},
            ),
            request=request,
        )
        raise Refused(responses.INVALID_SERVICE, f"Ticket {_mention(value)} is for another service")
    if is_set(params, "renew") and not ticket.primary:
        raise Refused(responses.INVALID_TICKET, "The ticket did not come from a new sign-in")
    # A session that ended since (a logout racing the redirect) takes its tickets with it.
    if await services.sessions.get(ticket.sid) is None:
        raise Refused(responses.INVALID_TICKET, f"Ticket {_mention(value)} not recognized")
    return ticket


async def _cas_client(request: Request, ticket: Ticket) -> Client:
    """The ticket's app, if it is still the one app that answers for the ticket's service: an
    app that no longer takes it, or shares it with another app, gets no user for it."""
    services: Services = request.app.state.services
    client = await services.clients.get(ticket.client_id)
    if client is None or client.protocol != "cas":
        raise Refused(responses.INVALID_TICKET, "The app of this ticket is no longer registered")
    if not in_service(client.state):
        raise Refused(responses.INVALID_SERVICE, "The app of this service is not in service")
    answering = await cas_apps(request).for_service(ticket.service)
    if answering is None or answering.client_id != client.client_id:
        await services.audit.record(
            AuditEvent(
                "cas.ticket_refused",
                outcome="failure",
                client_id=ticket.client_id,
                check="service_owner",
                details={"service": ticket.service},
            ),
            request=request,
        )
        raise Refused(responses.INVALID_SERVICE, "The service is not registered to this app")
    return answering


async def _validate(request: Request, proxies: bool) -> Response:
    services: Services = request.app.state.services
    try:
        params = parse_params(request.url.query)
    except FormError as error:
        as_json = "FORMAT=JSON" in request.url.query.upper()
        return responses.validation_failure(responses.INVALID_REQUEST, error.description, as_json)
    as_json = params.get("format", "XML").upper() == "JSON"
    try:
        ticket = await _checked(request, params, proxies)
        client = await _cas_client(request, ticket)
        pgt_iou = None
        if params.get("pgtUrl"):
            pgt_iou = await grant_proxying(request, client, ticket, params["pgtUrl"])
    except Refused as refused:
        return responses.validation_failure(refused.code, refused.description, as_json)
    except Unavailable:
        return responses.validation_failure(
            responses.INTERNAL_ERROR, "Temporarily unavailable; try again", as_json
        )
    services.audit.queue(
        AuditEvent(
            "cas.ticket_validated",
            actor=ticket.account_id,
            client_id=ticket.client_id,
            details={"proxied": ticket.is_proxy_ticket, "proxying": pgt_iou is not None},
        ),
        request=request,
    )
    return responses.validation_success(ticket, pgt_iou, True, as_json)


async def service_validate(request: Request) -> Response:
    return await _validate(request, proxies=False)


async def proxy_validate(request: Request) -> Response:
    return await _validate(request, proxies=True)


async def validate_v1(request: Request) -> Response:
    """CAS 1.0 (§2.4): ``yes`` and the user for an app that enabled it, ``no`` otherwise."""
    services: Services = request.app.state.services
    try:
        params = parse_params(request.url.query)
        # Asked before the ticket is taken: an app without CAS 1.0 keeps its ticket.
        app = await cas_apps(request).for_service(params.get("service", ""))
        if app is None or not app.cas_v1:
            return responses.cas1(None)
        ticket = await _checked(request, params, proxies=False)
        client = await _cas_client(request, ticket)
    except (FormError, Refused, Unavailable):
        return responses.cas1(None)
    if not client.cas_v1:
        return responses.cas1(None)
    services.audit.queue(
        AuditEvent("cas.ticket_validated", actor=ticket.account_id, client_id=client.client_id,
                   details={"version": 1}),
        request=request,
    )  # fmt: skip
    return responses.cas1(ticket.user)
