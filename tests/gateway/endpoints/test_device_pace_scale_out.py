"""The device grant's pace (RFC 8628 §3.5) holds across two gateway instances sharing Redis:
a kiosk that polls one instance and at once the other is told ``slow_down``, and the interval
raised on one is the interval on both."""

from __future__ import annotations

import secrets

import httpx

from gateway.oauth.models import digest
from policies.clients import DEVICE_CODE
from store import kv_keys
from tests.conftest import running_gateway
from tests.gateway.endpoints.test_device_grant import poll, start
from tests.gateway.helpers import second_instance


async def test_a_poll_on_one_instance_paces_the_other(settings_for) -> None:
    prefix = f"yht-test:{secrets.token_hex(6)}:"
    with (
        running_gateway(settings_for, "services", redis_prefix=prefix) as a,
        running_gateway(settings_for, "services", redis_prefix=prefix) as b,
    ):
        async with second_instance(a.settings) as admin:
            kiosk = await admin.clients.register(
                name="政务大厅自助机", redirect_uris=[], grant_types=[DEVICE_CODE], public=True
            )
        client_id = kiosk.client.client_id
        async with (
            httpx.AsyncClient(base_url=a.url) as at_a,
            httpx.AsyncClient(base_url=b.url) as at_b,
        ):
            codes = await start(at_a, client_id)
            assert codes["interval"] == 5
            first = await poll(at_a, client_id, codes["device_code"])
            assert first.json()["error"] == "authorization_pending"
            fast = await poll(at_b, client_id, codes["device_code"])
            assert fast.status_code == 400 and fast.json()["error"] == "slow_down"
            again = await poll(at_a, client_id, codes["device_code"])
            assert again.json()["error"] == "slow_down"
            # Each slow_down raised the one interval both instances keep: 5 + 5 + 5 s.
            async with second_instance(a.settings) as admin:
                key = kv_keys.device_interval(digest(codes["device_code"]))
                assert await admin.expiring.get(key) == b"15"
