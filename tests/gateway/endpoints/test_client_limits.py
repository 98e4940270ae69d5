"""Per-client request limits at the token, introspection and UserInfo endpoints: one budget
shared by every instance (Redis), a 429 with Retry-After and an OAuth error body, counted in
the metrics, and one client over its limit never holding back another."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import running_gateway
from tests.gateway.helpers import service_client
from tests.gateway.server.scrape import samples, value

TOKEN = "metrics-secret-abcdefghijklmnop"


@pytest.fixture
def two(settings_for) -> Iterator[tuple]:
    prefix = f"yht-test:{secrets.token_hex(6)}:"
    with (
        running_gateway(settings_for, "services", redis_prefix=prefix, metrics_token=TOKEN) as a,
        running_gateway(settings_for, "services", redis_prefix=prefix) as b,
    ):
        assert a.settings.database_url == b.settings.database_url
        yield a, b


async def _token(base: str, registered, secret: str | None = None) -> httpx.Response:
    async with httpx.AsyncClient(base_url=base) as http:
        return await http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(registered.client.client_id, secret or registered.client_secret),
        )


async def test_a_clients_limit_is_one_budget_across_two_instances(two) -> None:
    a, b = two
    limited = await service_client(a.settings, name="统计上报", requests_per_minute=3)
    other = await service_client(a.settings, name="数据共享")
    # Wrong secrets are refused before counting: nobody can spend a client's budget by name.
    for base in (a.url, b.url):
        assert (await _token(base, limited, secret="not-the-secret")).status_code == 401
    for base in (a.url, b.url, a.url):
        assert (await _token(base, limited)).status_code == 200
    refused = await _token(b.url, limited)
    assert refused.status_code == 429
    assert 0 < int(refused.headers["retry-after"]) <= 60
    assert refused.json()["error"] == "temporarily_unavailable"
    assert (await _token(a.url, limited)).status_code == 429
    for base in (a.url, b.url, a.url, b.url):  # its neighbour is not held back
        assert (await _token(base, other)).status_code == 200

    async with httpx.AsyncClient(base_url=a.url) as http:
        scrape = await http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    found = samples(scrape.text)
    client_id = limited.client.client_id
    name = "yihaotong_client_rate_limited_total"
    # Both instances run in this test's process, and so count into one registry.
    assert value(found, name, endpoint="token", client_id=client_id) == 2
    assert value(found, name, endpoint="token", client_id=other.client.client_id) == 0


async def test_the_default_limit_applies_at_introspection(settings_for) -> None:
    with running_gateway(settings_for, client_requests_per_minute=2) as live:
        api = await service_client(live.settings, name="人口库接口", requests_per_minute=100)
        caller = await service_client(live.settings, name="统计上报")
        token = (await _token(live.url, api)).json()["access_token"]
        async with httpx.AsyncClient(base_url=live.url) as http:
            statuses = []
            for _ in range(3):
                answer = await http.post(
                    "/oauth/introspect",
                    data={"token": token},
                    auth=(caller.client.client_id, caller.client_secret),
                )
                statuses.append(answer.status_code)
            # Its own limit (100) is above the default: the API is not held to 2.
            for _ in range(3):
                answer = await http.post(
                    "/oauth/introspect",
                    data={"token": token},
                    auth=(api.client.client_id, api.client_secret),
                )
                assert answer.status_code == 200
    assert statuses == [200, 200, 429]
    assert answer.json()["active"] is True
