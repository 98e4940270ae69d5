"""The IdP's answers to an SP (SAML 2.0 Core §3.2.2, §3.3.3; Profiles §4.1.4): a signed
``<samlp:Response>`` with a signed (and, when the SP asks, encrypted) assertion, or one with an
error status, always to the SP's registered AssertionConsumerService over HTTP-POST."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
from dataclasses import replace
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from gateway.cas.attributes import attributes_for
from gateway.endpoints.responses import deliver, error_page
from gateway.endpoints.visit import Visit, record_denial
from gateway.identity.claims import sector_of, subject_for
from gateway.identity.sessions import SessionApp
from gateway.pages.access_denied import denied_page
from gateway.saml.apps import saml_apps
from gateway.saml.idp import signing
from gateway.saml.sp_metadata import entity_id, wants_encryption
from gateway.server.services import Services
from policies.authorization import Step
from store import kv_keys
from store.records import AuditEvent, Client

PERSISTENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
TRANSIENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
UNSPECIFIED = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
STATUS = "urn:oasis:names:tc:SAML:2.0:status:"
POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"


def transaction_params(
    client: Client, message: Any, args: dict[str, Any], relay_state: str | None
) -> dict[str, str]:
    """What the sign-in keeps of the request: ForceAuthn and IsPassive (§3.4.1) as the OIDC
    prompts the sign-in steps know."""
    policy = args.get("name_id_policy")
    params = {
        "client_id": client.client_id,
        "saml_request_id": args["in_response_to"],
        "saml_acs": args["destination"],
        "saml_sp": args["sp_entity_id"],
        "saml_name_id_format": (policy.format if policy is not None else None) or "",
    }
    if relay_state:
        params["saml_relay_state"] = relay_state
    if str(message.force_authn).lower() == "true":
        params["prompt"] = "login"
    elif str(message.is_passive).lower() == "true":
        params["prompt"] = "none"
    return params


def name_id_for(client: Client, account_id: str, wanted: str, key: bytes) -> tuple[str, str]:
    """Persistent and pairwise per SP unless the SP asks for a transient one."""
    if wanted == TRANSIENT:
        return TRANSIENT, secrets.token_urlsafe(24)
    return PERSISTENT, subject_for(replace(client, subject_type="pairwise"), account_id, key)


def _values(attributes: dict[str, Any]) -> dict[str, list[str]]:
    def text(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)

    return {
        name: [text(v) for v in value] if isinstance(value, list | tuple) else [text(value)]
        for name, value in attributes.items()
    }


def _post(request: Request, acs: str, response: str, relay_state: str | None) -> Response:
    fields = {"SAMLResponse": base64.b64encode(response.encode("utf-8")).decode()}
    if relay_state:
        fields["RelayState"] = relay_state
    return deliver(request, acs, fields, "form_post")


async def assertion(visit: Visit, new_sign_in: bool) -> Response:
    services: Services = visit.request.app.state.services
    end_user, client, session, verdict = visit.end_user, visit.client, visit.session, visit.verdict
    assert end_user is not None and session is not None and verdict is not None
    params = visit.params
    sign_in = {"auth_time": session.auth_time, "acr": session.acr, "amr": session.amr,
               "new": new_sign_in}  # fmt: skip
    attributes = await attributes_for(
        services, client, end_user.account, verdict, end_user.act_for, sign_in
    )
    fmt, value = name_id_for(
        client, end_user.account.id, params["saml_name_id_format"], services.pairwise_key
    )
    server = await saml_apps(visit.request).server()
    from saml2.saml import NameID

    name_id = NameID(format=fmt, sp_name_qualifier=params["saml_sp"], text=value)
    response = await asyncio.to_thread(
        server.create_authn_response,
        _values(attributes),
        in_response_to=params["saml_request_id"],
        destination=params["saml_acs"],
        sp_entity_id=params["saml_sp"],
        name_id=name_id,
        authn={"class_ref": session.acr, "authn_auth": server.config.entityid},
        sign_response=True,
        sign_assertion=True,
        encrypt_assertion=wants_encryption(client.sp_metadata),
        **signing(),
    )
    writes = [
        services.sessions.add_app(
            session.sid, SessionApp("saml", client.client_id, (("name_id", value), ("format", fmt)))
        )
    ]
    if fmt == PERSISTENT:
        writes.append(services.subjects.remember(sector_of(client), value, end_user.account.id))
    if visit.tx_id:
        writes.append(services.expiring.delete(kv_keys.transaction(visit.tx_id)))
    await asyncio.gather(*writes)
    services.audit.queue(
        AuditEvent(
            "authorize.granted",
            actor=end_user.account.id,
            client_id=client.client_id,
            details={"protocol": "saml", "sp": params["saml_sp"], "act_for": end_user.act_for},
        ),
        request=visit.request,
    )
    return _post(visit.request, params["saml_acs"], str(response), params.get("saml_relay_state"))


async def error_to_sp(visit: Visit, second: str) -> Response:
    """A Response with only a status (§3.2.2.2), to the ACS the request was answered at."""
    params = visit.params
    server = await saml_apps(visit.request).server()
    from saml2.samlp import STATUS_NO_PASSIVE, STATUS_REQUEST_DENIED

    info = (STATUS_NO_PASSIVE if second == "NoPassive" else STATUS_REQUEST_DENIED, None)
    response = await asyncio.to_thread(
        server.create_error_response,
        params["saml_request_id"],
        params["saml_acs"],
        info,
        sign=True,
        **signing(),
    )
    if visit.tx_id:
        services: Services = visit.request.app.state.services
        await services.expiring.delete(kv_keys.transaction(visit.tx_id))
    return _post(visit.request, params["saml_acs"], str(response), params.get("saml_relay_state"))


async def error_response(
    request: Request,
    server: Any,
    client: Client,
    relay_state: str | None,
    request_id: str | None,
    responder: bool = False,
) -> Response:
    """A request from a registered SP that cannot be honoured (unsigned where signing is
    required, tampered, expired, for another audience): ``Requester`` status to the SP's
    registered ACS (never to one the request names); ``Responder`` when the fault is ours
    (Core §3.2.2.2), as for an app out of service."""
    try:
        acs = server.metadata.assertion_consumer_service(entity_id(client.sp_metadata), POST)
        destination = acs[0]["location"]
    except Exception:
        return error_page(request, {}, "error_invalid_request", "SAMLRequest")
    from saml2.samlp import STATUS_REQUESTER, STATUS_RESPONDER

    response = await asyncio.to_thread(
        server.create_error_response,
        request_id,
        destination,
        (STATUS_RESPONDER if responder else STATUS_REQUESTER, None),
        sign=True,
        **signing(),
    )
    return _post(request, destination, str(response), relay_state)


async def denied(visit: Visit, step: Step) -> Response:
    decision = step.decision
    assert decision is not None and visit.end_user is not None
    await record_denial(visit, decision, "saml")
    if visit.params.get("prompt") == "none":
        return await error_to_sp(visit, "RequestDenied")
    acs = visit.params["saml_acs"]
    return denied_page(visit.request, visit.client, visit.params, decision, acs, {}, acs)
