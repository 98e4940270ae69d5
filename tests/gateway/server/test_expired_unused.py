"""``yihaotong_expired_unused_total``: CAS tickets and authorization codes that expire without
being redeemed are counted once, by the sweep of their expiry ledgers; those redeemed in time
never. With the in-process store and with Redis."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlencode

import httpx

from gateway.identity import expiry_sweep
from tests.conftest import running_gateway
from tests.gateway.browser import Browser
from tests.gateway.cas.conftest import PASSWORD, Command
from tests.gateway.cas.test_cas_protocol import SERVICE, _ticket_of, _validate
from tests.gateway.helpers import second_instance
from tests.gateway.server.scrape import samples, value
from tests.gateway.sso import CALLBACK, authorize_url, code_of

TOKEN = "metrics-secret-abcdefghijklmnop"
EXPIRED = "yihaotong_expired_unused_total"


async def _expired(base: str, kind: str) -> float:
    async with httpx.AsyncClient(base_url=base) as http:
        scrape = await http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert scrape.status_code == 200
    return value(samples(scrape.text), EXPIRED, kind=kind)


async def _cas_tickets(live, browser: Browser) -> None:
    """Two tickets: the first validated in time, the second left to expire."""
    await Command(live.settings).cas_app("不动产登记", SERVICE)
    login = f"{live.url}/cas/login?{urlencode({'service': SERVICE})}"
    used = _ticket_of(await browser.go(login, username="wang", password=PASSWORD))
    validated = await _validate(live, "p3/serviceValidate", service=SERVICE, ticket=used)
    assert "authenticationSuccess" in validated.text
    _ticket_of(await browser.go(login))  # the SSO session's second ticket, never validated


async def test_tickets_and_codes_left_to_expire_are_counted_once(settings_for, backend) -> None:
    with running_gateway(
        settings_for, backend, cas_ticket_ttl=1, expiry_sweep_seconds=0.2, metrics_token=TOKEN
    ) as live:
        async with second_instance(live.settings) as admin:
            await admin.accounts.create_local(username="wang", password=PASSWORD)
            app = await admin.clients.register(name="税务服务", redirect_uris=[CALLBACK])
        before = await _expired(live.url, "cas_ticket")
        browser = Browser(live.url)
        try:
            await _cas_tickets(live, browser)
            started = time.monotonic()
            # Two codes: one exchanged, one left in its ledger (it lives a minute).
            client_id = app.client.client_id
            codes = [code_of(await browser.go(authorize_url(live.url, client_id))) for _ in "ab"]
        finally:
            await browser.close()
        async with httpx.AsyncClient(base_url=live.url) as http:
            form = {"grant_type": "authorization_code", "code": codes[0], "redirect_uri": CALLBACK}
            auth = (client_id, app.client_secret)
            assert (await http.post("/oauth/token", data=form, auth=auth)).status_code == 200
        while await _expired(live.url, "cas_ticket") < before + 1:
            assert time.monotonic() - started < 30, "the expired ticket was never counted"
            await asyncio.sleep(0.2)
        await asyncio.sleep(1 + expiry_sweep.GRACE)  # a ticket counted twice would show now
        assert await _expired(live.url, "cas_ticket") == before + 1
        if backend == "services":
            # What is left in the ledgers, seen by another instance sharing Redis.
            async with second_instance(live.settings) as other:
                left = await other.expiring.sweep_ledger(expiry_sweep.CODE, -3600, 100)
                tickets = await other.expiring.sweep_ledger(expiry_sweep.CAS_TICKET, -3600, 100)
            assert (left, tickets) == (1, 0)
