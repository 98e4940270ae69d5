"""``/saml/sso``: the Single Sign-On Service (SAML 2.0 Profiles §4.1) over HTTP-Redirect and
HTTP-POST. The sign-in steps are the authorization endpoint's own (``policies/authorization``,
the app's access policy, step-up, acting for an enterprise, audit), as for CAS apps; the
response goes to the SP's registered AssertionConsumerService over HTTP-POST, signed."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response

from gateway.endpoints.authorize import step_up
from gateway.endpoints.responses import error_page
from gateway.endpoints.transaction import load_transaction
from gateway.endpoints.visit import Visit, admission, sign_in_facts
from gateway.saml import issue
from gateway.saml.apps import saml_apps
from gateway.saml.messages import MAX_MESSAGE, BadMessage, decoded, issuer_of, request_id_of
from gateway.saml.sp_metadata import wants_signed_requests
from gateway.server.forms import FormError, read_body
from gateway.server.services import Services
from policies.app_lifecycle import in_service
from policies.authorization import next_step
from store.records import AuditEvent, Client

RESUME_PATH = "/saml/sso/resume"
REQUEST_MAX_AGE = 300
CLOCK_SKEW = 60
REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
FORM = "application/x-www-form-urlencoded"
DSIG = "http://www.w3.org/2000/09/xmldsig#"


async def message_fields(request: Request) -> dict[str, str]:
    """The binding's fields (Bindings §3.4.4, §3.5.4): longer than an OAuth parameter may be,
    so parsed here; a malformed or repeated field makes it no message."""
    try:
        if request.method == "POST":
            if not request.headers.get("content-type", "").startswith(FORM):
                return {}
            text = (await read_body(request, 2 * MAX_MESSAGE)).decode("utf-8")
        else:
            text = request.url.query
        pairs = parse_qsl(text, max_num_fields=8)
    except (FormError, UnicodeDecodeError, ValueError):
        return {}
    fields = dict(pairs)
    return fields if len(fields) == len(pairs) else {}


def needs_signature(client: Client, fields: dict[str, str], xml: str) -> bool:
    """Whether the request must carry a valid signature: its SP signs every request, or it
    carries one (which then must verify)."""
    return wants_signed_requests(client.sp_metadata) or bool(fields.get("Signature")) or DSIG in xml


async def sso_endpoint(request: Request) -> Response:
    services: Services = request.app.state.services
    fields = await message_fields(request)
    binding = POST if request.method == "POST" else REDIRECT
    encoded = fields.get("SAMLRequest")
    if not encoded:
        return error_page(request, {}, "error_invalid_request", "SAMLRequest is missing")
    try:
        xml = decoded(encoded, deflated=binding == REDIRECT)
        sp = issuer_of(xml)
    except BadMessage as error:
        return error_page(request, {}, "error_invalid_request", f"SAMLRequest: {error}")
    client = await saml_apps(request).for_entity(sp)
    if client is None:
        # An unknown SP has no registered endpoint to answer at (as an unknown OAuth client).
        return error_page(request, {}, "error_invalid_client")
    relay_state = fields.get("RelayState")
    server = await saml_apps(request).server(signed=needs_signature(client, fields, xml))
    try:
        request_info = await asyncio.to_thread(
            server.parse_authn_request,
            encoded,
            binding,
            relay_state=relay_state,
            sigalg=fields.get("SigAlg"),
            signature=fields.get("Signature"),
        )
        message = request_info.message
        if message.issuer is None or message.issuer.text.strip() != sp:
            raise BadMessage("issuer changed")
        check_age(message.issue_instant, services.clock.now())
        args = await asyncio.to_thread(server.response_args, message, [POST])
    except Exception as error:
        await _refused(services, request, client, str(error))
        return await issue.error_response(request, server, client, relay_state, request_id_of(xml))
    if not in_service(client.state):
        await _refused(services, request, client, "the app is not in service")
        return await issue.error_response(
            request, server, client, relay_state, message.id, responder=True
        )
    wanted = issue.transaction_params(client, message, args, relay_state)
    visit = Visit(request, wanted, None, None)
    if binding == POST:
        # A cross-site POST carries no SameSite=Lax session cookie: go on after a redirect,
        # a top-level GET that does, so a person signed in already is not asked again.
        visit.client, visit.tx_extra = client, {"resume": RESUME_PATH}
        return await visit.page(RESUME_PATH)
    return await _go_on(request, client, visit)


def check_age(issue_instant: str, now: float) -> None:
    """Core §3.2.1 ``IssueInstant``: pysaml2 accepts a day either side; a request is answered
    within minutes of being made, so an older (or future) one is a replay or a stale link."""
    try:
        issued = datetime.fromisoformat(issue_instant).timestamp()
    except (TypeError, ValueError) as error:
        raise BadMessage("IssueInstant is not a time") from error
    if not now - REQUEST_MAX_AGE <= issued <= now + CLOCK_SKEW:
        raise BadMessage("IssueInstant out of range")


async def resume_endpoint(request: Request) -> Response:
    """Back from the sign-in, second factor or act-for pages."""
    services: Services = request.app.state.services
    tx_id = request.query_params.get("tx")
    tx = await load_transaction(services, request, tx_id)
    if tx is None or tx_id is None or tx.extra.get("resume") != RESUME_PATH:
        return error_page(request, {}, "expired")
    client = await services.clients.get(tx.params.get("client_id", ""))
    if client is None or client.protocol != "saml":
        return error_page(request, {}, "expired")
    if not in_service(client.state):
        return error_page(request, {}, "error_app_out_of_service")
    return await _go_on(request, client, Visit(request, tx.params, tx, tx_id))


async def _refused(services: Services, request: Request, client: Client, reason: str) -> None:
    await services.audit.record(
        AuditEvent(
            "saml.request_refused",
            outcome="failure",
            client_id=client.client_id,
            details={"reason": reason[:200]},
        ),
        request=request,
    )


async def _go_on(request: Request, client: Client, visit: Visit) -> Response:
    visit.client = client
    visit.tx_extra = {"resume": RESUME_PATH}
    facts, _ = await sign_in_facts(visit)
    step = next_step(facts)
    if step.outcome == "access":
        act_for = await admission(visit, None)
        assert visit.verdict is not None
        facts = replace(facts, access=visit.verdict.decision, act_for=act_for)
        step = next_step(facts)
    match step.outcome:
        case "login_required":
            return await issue.error_to_sp(visit, "NoPassive")  # §3.4.1 IsPassive
        case "sign_in":
            return await visit.page("/login")
        case "step_up":
            return await step_up(visit, step)
        case "act_for":
            return await visit.page("/act-for")
        case "denied":
            return await issue.denied(visit, step)
    return await issue.assertion(visit, facts.signed_in_here)
