"""Single logout (SAML 2.0 Profiles §4.4). An SP's ``<LogoutRequest>`` at ``/saml/slo`` (over
HTTP-Redirect or HTTP-POST) ends the SSO session, and so every app's session, and is answered
with a signed ``<LogoutResponse>``; when a session ends anywhere else, each SAML app used in it
gets a signed ``<LogoutRequest>`` POSTed to its SingleLogoutService (HTTP-POST binding),
delivered, retried and audited as back-channel logout is (``logout.saml``)."""

from __future__ import annotations

import asyncio
import base64
import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway.endpoints.end_session import end_sso_session
from gateway.endpoints.responses import deliver, error_page
from gateway.identity.sessions import SessionApp, SsoSession
from gateway.saml.apps import saml_apps
from gateway.saml.idp import signing
from gateway.saml.messages import BadMessage, decoded, issuer_of
from gateway.saml.sp_metadata import entity_id
from gateway.saml.sso import POST, REDIRECT, message_fields, needs_signature
from gateway.server.services import Services
from store.records import AuditEvent, Client

DELIVERED = tuple(range(200, 400))
log = logging.getLogger("yihaotong.saml")
_pending: set[asyncio.Task[None]] = set()


async def slo_endpoint(request: Request) -> Response:
    services: Services = request.app.state.services
    fields = await message_fields(request)
    binding = POST if request.method == "POST" else REDIRECT
    encoded = fields.get("SAMLRequest")
    if not encoded:
        # A LogoutResponse or nothing: this IdP sends its own requests server to server.
        return RedirectResponse("/", status_code=303)
    try:
        xml = decoded(encoded, deflated=binding == REDIRECT)
        sp = issuer_of(xml)
    except BadMessage as error:
        return error_page(request, {}, "error_invalid_request", f"SAMLRequest: {error}")
    client = await saml_apps(request).for_entity(sp)
    if client is None:
        return error_page(request, {}, "error_invalid_client")
    server = await saml_apps(request).server(signed=needs_signature(client, fields, xml))
    try:
        info = await asyncio.to_thread(
            server.parse_logout_request,
            encoded,
            binding,
            relay_state=fields.get("RelayState"),
            sigalg=fields.get("SigAlg"),
            signature=fields.get("Signature"),
        )
        args = await asyncio.to_thread(server.response_args, info.message, [POST])
    except Exception as error:
        await services.audit.record(
            AuditEvent(
                "saml.request_refused",
                outcome="failure",
                client_id=client.client_id,
                details={"reason": str(error)[:200]},
            ),
            request=request,
        )
        return error_page(request, {}, "error_invalid_request", "LogoutRequest")
    session = await services.sessions.from_cookie(
        request.cookies.get(services.sessions.cookie_name)
    )
    request.state.saml_logout_from = client.client_id  # it knows already
    frontchannel: list[str] = []
    ended = session is not None and await _names_this_session(
        services, session, client, info.message.name_id
    )
    if ended:
        frontchannel = await end_sso_session(request, session.sid, "saml")
    response = await asyncio.to_thread(
        server.create_logout_response, info.message, [POST], sign=True, **signing()
    )
    fields_out = {"SAMLResponse": base64.b64encode(str(response).encode()).decode()}
    if fields.get("RelayState"):
        fields_out["RelayState"] = fields["RelayState"]
    # The OIDC apps with front-channel logout are loaded on the way back to the SP.
    answer = deliver(request, args["destination"], fields_out, "form_post", frontchannel)
    if ended:
        services.sessions.clear_cookie(answer)
    return answer


async def _names_this_session(
    services: Services, session: SsoSession, client: Client, name_id: Any
) -> bool:
    """Profiles §4.4.4.1: the request ends the session only when its SP took part in it and
    names the NameID issued to it there; else any SP's request, sent through a person's
    browser, would end that person's session."""
    text = (getattr(name_id, "text", None) or "").strip()
    return bool(text) and any(
        app.protocol == "saml"
        and app.client_id == client.client_id
        and app.detail("name_id") == text
        for app in await services.sessions.apps_of(session.sid)
    )


def notify(request: Request, client: Client, session: SsoSession, app: SessionApp) -> None:
    """The logout channel of protocol ``saml`` (``gateway.endpoints.end_session``)."""
    if getattr(request.state, "saml_logout_from", None) == client.client_id:
        return
    task = asyncio.create_task(_send(request, client, app))
    _pending.add(task)
    task.add_done_callback(_pending.discard)


async def _send(request: Request, client: Client, app: SessionApp) -> None:
    from saml2.saml import NameID

    server = await saml_apps(request).server()
    sp = entity_id(client.sp_metadata) or ""
    try:
        destination = server.metadata.single_logout_service(sp, POST, "spsso")[0]["location"]
    except Exception:
        log.info("no SAML single logout endpoint", extra={"fields": {"client": client.client_id}})
        return
    name_id = NameID(format=app.detail("format"), sp_name_qualifier=sp, text=app.detail("name_id"))
    _, logout_request = await asyncio.to_thread(
        server.create_logout_request, destination, sp, name_id=name_id, sign=True, **signing()
    )
    body = base64.b64encode(str(logout_request).encode()).decode()
    request.app.state.backchannel.post(
        client.client_id, destination, {"SAMLRequest": body}, "logout.saml", DELIVERED
    )
