"""A SAML app out of service (``yihaotong clients state``): its service provider's requests
are answered at its registered ACS with a Responder status and no assertion (Core
§3.2.2.2); live again, it signs people in again."""

from __future__ import annotations

import base64

import pytest

from tests.conftest import running_gateway
from tests.gateway.browser import hidden
from tests.gateway.saml.test_saml_idp import _redirect_request

pytest.importorskip("saml2")


@pytest.fixture
def live_server(settings_for, backend):
    """``saml_world`` on a gateway without the client cache: a state the command line sets
    shows at the next request."""
    with running_gateway(settings_for, backend, client_cache_seconds=0) as live:
        yield live


async def test_a_suspended_saml_app_gets_a_responder_status(saml_world) -> None:
    sp, registered = await saml_world["service_provider"]("公积金", sign_requests=False)
    command, http = saml_world["command"], saml_world["browser"].http
    idp = f"{saml_world['live'].url}/saml/sso"
    await command("clients", "state", registered["client_id"], "suspended")
    _, request = sp.client.create_authn_request(idp)
    answer = await http.get(_redirect_request(str(request)))
    assert answer.status_code == 200 and f'action="{sp.url}/acs"' in answer.text
    status = base64.b64decode(hidden(answer.text, "SAMLResponse")).decode()
    assert "urn:oasis:names:tc:SAML:2.0:status:Responder" in status
    assert "Assertion" not in status
    await command("clients", "state", registered["client_id"], "live")
    _, request = sp.client.create_authn_request(idp)
    assert (await http.get(_redirect_request(str(request)))).status_code == 303
