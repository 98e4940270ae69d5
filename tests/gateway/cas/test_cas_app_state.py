"""A CAS app out of service (``yihaotong clients state``): its tickets are refused at
validation with INVALID_SERVICE, and its service gets no ticket (an error page, never a
redirect); live again, it works again."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from tests.conftest import running_gateway
from tests.gateway.browser import Browser
from tests.gateway.cas.conftest import PASSWORD, Command
from tests.gateway.cas.test_cas_protocol import SERVICE, _failure, _sign_in, _ticket_of, _validate
from tests.gateway.helpers import second_instance


@pytest.fixture
async def cas_world(settings_for, backend):
    # Without the client cache, a state the command line sets shows at the next request.
    with running_gateway(settings_for, backend, client_cache_seconds=0) as live:
        async with second_instance(live.settings) as admin:
            await admin.accounts.create_local(username="wang", password=PASSWORD, name="王小明")
        browser = Browser(live.url)
        try:
            yield {"live": live, "command": Command(live.settings), "browser": browser}
        finally:
            await browser.close()


async def test_a_suspended_cas_app_gets_no_ticket_and_its_tickets_fail(cas_world) -> None:
    live, command, browser = cas_world["live"], cas_world["command"], cas_world["browser"]
    app = await command.cas_app("不动产登记", SERVICE)
    ticket = _ticket_of(await _sign_in(cas_world))
    moved = await command("clients", "state", app["client_id"], "suspended", "--json")
    assert moved["state"] == "suspended"
    refused = await _validate(
        live, "p3/serviceValidate", service=SERVICE, ticket=ticket, format="JSON"
    )
    assert _failure(refused) == "INVALID_SERVICE"
    page = await browser.http.get(f"{live.url}/cas/login?{urlencode({'service': SERVICE})}")
    assert page.status_code == 400 and "location" not in page.headers
    assert "目前未启用" in page.text
    await command("clients", "state", app["client_id"], "live")
    _ticket_of(await browser.go(f"{live.url}/cas/login?{urlencode({'service': SERVICE})}"))
