"""A service belongs to the one app that takes it, at the moment a ticket is issued and again
when it is validated: an overlap that predates the registration check, or an app that stopped
taking the service, gets nobody's user."""

from __future__ import annotations

import pytest

from store import clients as client_store
from tests.conftest import running_gateway
from tests.gateway.browser import Browser
from tests.gateway.cas.conftest import PASSWORD, Command
from tests.gateway.cas.test_cas_protocol import SERVICE, _failure, _sign_in, _ticket_of, _validate
from tests.gateway.helpers import second_instance


@pytest.fixture
async def uncached_world(settings_for, backend):
    # Without the client cache, a change in the database shows at the next request.
    with running_gateway(settings_for, backend, client_cache_seconds=0) as live:
        async with second_instance(live.settings) as admin:
            await admin.accounts.create_local(username="wang", password=PASSWORD, name="王小明")
        browser = Browser(live.url)
        try:
            yield {"live": live, "command": Command(live.settings), "browser": browser}
        finally:
            await browser.close()


async def _set_service_urls(live, client_id: str, *urls: str) -> None:
    """Written straight to the database, as a registration from before the overlap check."""
    async with second_instance(live.settings) as services, services.database.transaction() as s:
        await client_store.update_client(
            s, client_id, None, {"service_urls": list(urls)}, services.clock.now()
        )


async def _audited(live, event: str) -> list:
    async with second_instance(live.settings) as services:
        return await services.audit.query(event=event)


async def test_a_service_two_apps_take_belongs_to_neither(uncached_world) -> None:
    live, command = uncached_world["live"], uncached_world["command"]
    await command.cas_app("西区不动产", SERVICE)
    east = await command.cas_app("东区", "https://east.example.gov.cn/app/")
    ticket = _ticket_of(await _sign_in(uncached_world))
    await _set_service_urls(live, east["client_id"], "https://estate.example.gov.cn/*")
    refused = await _validate(live, "p3/serviceValidate", service=SERVICE, ticket=ticket,
                              format="JSON")  # fmt: skip
    assert _failure(refused) == "INVALID_SERVICE"
    # Nor is a new ticket issued for it, under either app.
    again = await uncached_world["browser"].http.get("/cas/login", params={"service": SERVICE})
    assert again.status_code == 400 and "location" not in again.headers
    assert await _audited(live, "cas.service_ambiguous")


async def test_an_app_that_no_longer_takes_the_service_gets_no_user(uncached_world) -> None:
    live, command = uncached_world["live"], uncached_world["command"]
    app = await command.cas_app("不动产登记", SERVICE, "https://estate.example.gov.cn/new/")
    ticket = _ticket_of(await _sign_in(uncached_world))
    await _set_service_urls(live, app["client_id"], "https://estate.example.gov.cn/new/")
    refused = await _validate(live, "p3/serviceValidate", service=SERVICE, ticket=ticket,
                              format="JSON")  # fmt: skip
    assert _failure(refused) == "INVALID_SERVICE"
