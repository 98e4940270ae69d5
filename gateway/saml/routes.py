"""The SAML identity provider's endpoints under ``ISSUER/saml/``, and its logout channel."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.endpoints.end_session import LogoutChannel
from gateway.saml import idp, slo, sso
from gateway.saml.apps import SamlApps, saml_apps


async def metadata_endpoint(request: Request) -> Response:
    """The IdP's own metadata (SAML 2.0 Metadata §2.4.3): entity ID, signing and encryption
    certificate, the SSO and SLO endpoints with their bindings, the NameID formats."""
    server = await saml_apps(request).server()
    return Response(idp.own_metadata(server), media_type="application/samlmetadata+xml")


ROUTES = [
    Route(idp.METADATA_PATH, metadata_endpoint, methods=["GET"]),
    Route(idp.SSO_PATH, sso.sso_endpoint, methods=["GET", "POST"]),
    Route(sso.RESUME_PATH, sso.resume_endpoint, methods=["GET"]),
    Route(idp.SLO_PATH, slo.slo_endpoint, methods=["GET", "POST"]),
]

LOGOUT_CHANNELS: dict[str, LogoutChannel] = {"saml": slo.notify}

__all__ = ["LOGOUT_CHANNELS", "ROUTES", "SamlApps"]
