"""A service ticket lives ``YIHAOTONG_CAS_TICKET_TTL`` seconds (CAS 3.0 §3.1): validated later,
it is refused with INVALID_TICKET; within it, accepted. The gateway's clock is a FakeClock."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from store.clock import FakeClock
from tests.conftest import running_gateway
from tests.gateway.browser import Browser
from tests.gateway.cas.conftest import PASSWORD, Command
from tests.gateway.helpers import second_instance

SERVICE = "https://estate.example.gov.cn/cas/callback"


async def _ticket(browser: Browser, live, **sign_in: str) -> str:
    arrival = await browser.go(f"{live.url}/cas/login?{urlencode({'service': SERVICE})}", **sign_in)
    assert arrival.status_code == 303, arrival.text
    return parse_qs(urlsplit(arrival.headers["location"]).query)["ticket"][0]


async def _validate(live, ticket: str) -> str:
    async with httpx.AsyncClient(base_url=live.url) as http:
        answer = await http.get(
            "/cas/p3/serviceValidate", params={"service": SERVICE, "ticket": ticket}
        )
    return answer.text


async def test_a_ticket_lives_the_configured_seconds(settings_for) -> None:
    clock = FakeClock(time.time())
    with running_gateway(settings_for, "embedded", clock=clock, cas_ticket_ttl=10) as live:
        async with second_instance(live.settings) as admin:
            await admin.accounts.create_local(username="wang", password=PASSWORD, name="王小明")
        await Command(live.settings).cas_app("不动产登记", SERVICE)
        browser = Browser(live.url)
        try:
            late = await _ticket(browser, live, username="wang", password=PASSWORD)
            clock.advance(11)
            assert 'code="INVALID_TICKET"' in await _validate(live, late)
            in_time = await _ticket(browser, live)  # the SSO session still holds
            clock.advance(9)
            assert "<cas:authenticationSuccess>" in await _validate(live, in_time)
        finally:
            await browser.close()
