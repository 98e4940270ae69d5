"""CAS single logout (CAS 3.0 §2.3.3, Appendix C): when an SSO session ends, each service
ticket issued in it is named in a SAML-shaped ``logoutRequest`` POSTed to the service it went
to, delivered and retried as back-channel logout is, and audited as ``logout.cas``."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from xml.etree import ElementTree as ET  # builds only: nothing incoming is parsed here

from starlette.requests import Request

from gateway.identity.claims import subject_for
from gateway.identity.sessions import SessionApp, SsoSession
from gateway.server.services import Services
from store.records import Client

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
ET.register_namespace("samlp", SAMLP)
ET.register_namespace("saml", SAML)
DELIVERED = tuple(range(200, 400))


def logout_request(ticket: str, name_id: str, now: float) -> str:
    """The ``<samlp:LogoutRequest>`` whose ``SessionIndex`` is the service ticket."""
    instant = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    root = ET.Element(
        f"{{{SAMLP}}}LogoutRequest",
        {"ID": "LR-" + secrets.token_hex(16), "Version": "2.0", "IssueInstant": instant},
    )
    ET.SubElement(root, f"{{{SAML}}}NameID").text = name_id
    ET.SubElement(root, f"{{{SAMLP}}}SessionIndex").text = ticket
    return ET.tostring(root, encoding="unicode")


def notify(request: Request, client: Client, session: SsoSession, app: SessionApp) -> None:
    """The logout channel of protocol ``cas`` (``gateway.endpoints.end_session``)."""
    services: Services = request.app.state.services
    ticket, service = app.detail("ticket"), app.detail("service")
    if not ticket or not service:
        return
    name_id = subject_for(client, session.account_id, services.pairwise_key)
    body = logout_request(ticket, name_id, services.clock.now())
    # Any answer but an error is a delivery: CAS clients commonly redirect after a logout.
    request.app.state.backchannel.post(
        client.client_id, service, {"logoutRequest": body}, "logout.cas", DELIVERED
    )
