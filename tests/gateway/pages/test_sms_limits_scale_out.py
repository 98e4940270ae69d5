"""The SMS send limits hold across two gateway instances sharing Redis and PostgreSQL: no
instance has an allowance of its own, and a browser is the same browser on either."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from tests.conftest import running_gateway
from tests.gateway.browser import Browser, hidden
from tests.gateway.helpers import second_instance
from tests.gateway.sms_flow import challenge_of, forget_minute, outbox, sms_page
from tests.gateway.sso import CALLBACK, authorize_url

PHONE = "13912345678"


@pytest.fixture
def two(settings_for) -> Iterator[tuple]:
    prefix = f"yht-test:{secrets.token_hex(6)}:"
    with (
        running_gateway(settings_for, "services", redis_prefix=prefix) as a,
        running_gateway(settings_for, "services", redis_prefix=prefix) as b,
    ):
        assert a.settings.database_url == b.settings.database_url
        yield a, b


async def _send_at(browser: Browser, base: str, page, phone: str):
    return await browser.http.post(
        f"{base}/login/sms/send",
        data={"tx": hidden(page.text, "tx"), "csrf_token": hidden(page.text, "csrf_token"),
              "phone": phone},
    )  # fmt: skip


async def test_a_number_limited_on_one_instance_is_limited_on_the_other(two) -> None:
    a, b = two
    async with second_instance(a.settings) as admin:
        tax = await admin.clients.register(name="税务服务", redirect_uris=[CALLBACK])
    url = authorize_url(a.url, tax.client.client_id)
    first, second = Browser(a.url), Browser(b.url)
    try:
        assert (await _send_at(first, a.url, await sms_page(first, url), PHONE)).status_code == 200
        page = await sms_page(second, authorize_url(b.url, tax.client.client_id))
        refused = await _send_at(second, b.url, page, PHONE)
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
        assert len(outbox(a.settings.data_dir)) == 1

        # Ten a day: the minute passes (the counter is forgotten) nine more times, then no more.
        for n in range(9):
            await forget_minute(a, PHONE)
            fresh = Browser(a.url)
            base = (a, b)[n % 2].url
            try:
                page = await sms_page(fresh, authorize_url(base, tax.client.client_id))
                assert (await _send_at(fresh, base, page, PHONE)).status_code == 200
            finally:
                await fresh.close()
        await forget_minute(a, PHONE)
        last = Browser(b.url)
        try:
            page = await sms_page(last, authorize_url(b.url, tax.client.client_id))
            eleventh = await _send_at(last, b.url, page, PHONE)
        finally:
            await last.close()
        assert eleventh.status_code == 429
        assert int(eleventh.headers["retry-after"]) > 3600
        assert len(outbox(a.settings.data_dir)) == 10
    finally:
        await first.close()
        await second.close()


async def test_a_browser_challenged_on_one_instance_is_challenged_on_the_other(two) -> None:
    a, b = two
    async with second_instance(a.settings) as admin:
        tax = await admin.clients.register(name="税务服务", redirect_uris=[CALLBACK])
    browser = Browser(a.url)
    try:
        page = await sms_page(browser, authorize_url(a.url, tax.client.client_id))
        assert (await _send_at(browser, a.url, page, "13700000001")).status_code == 200
        assert (await _send_at(browser, b.url, page, "13700000002")).status_code == 200
        asked = await _send_at(browser, a.url, page, "13700000003")
        assert asked.status_code == 400 and challenge_of(asked.text) is not None
        again = await _send_at(browser, b.url, page, "13700000003")
        assert again.status_code == 400 and challenge_of(again.text) is not None
    finally:
        await browser.close()
    assert len(outbox(a.settings.data_dir)) == 2
