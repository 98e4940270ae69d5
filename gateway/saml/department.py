"""The service provider's endpoints for SAML departments: its metadata, for the department to
register, and its AssertionConsumerService (HTTP-POST binding, SAML 2.0 Bindings §3.5).

The department's page posts the Response cross-site, and the browser's cookies (SameSite=Lax)
do not come with it: the answer is kept for its ``RelayState`` and the browser is sent on to
the department login callback, where the sign-in is finished as for every other kind."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from gateway.endpoints.authorize import error_page
from gateway.pages.department_login import CALLBACK_PATH, STATE_TTL
from gateway.saml.sp_site import ACS_PATH, SP_METADATA_PATH
from gateway.saml.sso import message_fields
from gateway.server.services import Services
from providers.base import MetadataProvider
from store import kv_keys
from store.records import AuditEvent


async def _saml_provider(request: Request) -> tuple[str, MetadataProvider | None]:
    services: Services = request.app.state.services
    provider_id = request.path_params["provider_id"]
    login_system = await services.login_systems.get(provider_id)
    provider = login_system.provider if login_system is not None else None
    return provider_id, provider if isinstance(provider, MetadataProvider) else None


async def metadata_endpoint(request: Request) -> Response:
    """Our SP metadata for this department (SAML 2.0 Metadata §2.4.4): entity ID, the
    AssertionConsumerService, the certificate requests are signed with."""
    _, provider = await _saml_provider(request)
    if provider is None:
        return Response("No SAML department here.", status_code=404, media_type="text/plain")
    return Response(provider.sp_metadata(), media_type="application/samlmetadata+xml")


async def acs_endpoint(request: Request) -> Response:
    services: Services = request.app.state.services
    provider_id, provider = await _saml_provider(request)
    fields = await message_fields(request)
    state, answer = fields.get("RelayState", ""), fields.get("SAMLResponse", "")
    raw = await services.expiring.get(kv_keys.upstream_state(state)) if state else None
    started = json.loads(raw) if raw else {}
    if provider is None or not answer or started.get("provider") != provider_id:
        # Unknown, spent (a replay) or another department's sign-in: nothing to finish.
        await services.audit.record(
            AuditEvent(
                "login.failed",
                outcome="failure",
                check="saml_response",
                details={"provider": provider_id, "reason": "unknown_relay_state"},
            ),
            request=request,
        )
        return error_page(request, {}, "expired")
    await services.expiring.put(
        kv_keys.upstream_answer(state), json.dumps({"SAMLResponse": answer}).encode(), STATE_TTL
    )
    callback = CALLBACK_PATH.format(provider_id=provider_id)
    return RedirectResponse(f"{callback}?{urlencode({'state': state})}", status_code=303)


ROUTES = [
    Route(SP_METADATA_PATH, metadata_endpoint, methods=["GET"]),
    Route(ACS_PATH, acs_endpoint, methods=["POST"]),
]
