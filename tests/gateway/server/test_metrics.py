"""``/metrics``: never open unless configured, guarded by a bearer secret and/or an address
list; requests are labelled by their route template, never by the raw path."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import running_gateway
from tests.gateway.helpers import service_client
from tests.gateway.server.scrape import samples, value

TOKEN = "metrics-secret-abcdefghijklmnop"


async def _get(base: str, path: str = "/metrics", token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(base_url=base) as http:
        return await http.get(path, headers=headers)


async def test_metrics_are_not_served_when_no_guard_is_configured(settings_for) -> None:
    with running_gateway(settings_for) as live:
        refused = await _get(live.url)
        assert refused.status_code == 404
        assert "yihaotong_" not in refused.text


async def test_the_bearer_secret_is_required_and_compared_exactly(settings_for) -> None:
    with running_gateway(settings_for, metrics_token=TOKEN) as live:
        missing = await _get(live.url)
        assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith(
            "Bearer"
        )
        assert (await _get(live.url, token=TOKEN[:-1])).status_code == 401
        assert (await _get(live.url, token=TOKEN + "x")).status_code == 401
        async with httpx.AsyncClient(base_url=live.url) as http:
            basic = await http.get("/metrics", auth=("prometheus", TOKEN))
        assert basic.status_code == 401
        allowed = await _get(live.url, token=TOKEN)
        assert allowed.status_code == 200
        assert allowed.headers["content-type"].startswith("text/plain")
        assert "yihaotong_http_request_duration_seconds" in allowed.text


@pytest.mark.parametrize(
    ("addresses", "status"), [("10.0.0.0/8,192.168.1.7", 403), ("10.0.0.0/8,127.0.0.0/8", 200)]
)
async def test_the_address_list_admits_only_its_networks(settings_for, addresses, status) -> None:
    with running_gateway(settings_for, metrics_allowed_addresses=addresses) as live:
        assert (await _get(live.url)).status_code == status


async def test_with_both_guards_a_scrape_needs_both(settings_for) -> None:
    with running_gateway(
        settings_for, metrics_token=TOKEN, metrics_allowed_addresses="127.0.0.1"
    ) as live:
        assert (await _get(live.url)).status_code == 401
        assert (await _get(live.url, token=TOKEN)).status_code == 200
    with running_gateway(
        settings_for, metrics_token=TOKEN, metrics_allowed_addresses="10.1.2.3"
    ) as live:
        assert (await _get(live.url, token=TOKEN)).status_code == 403


async def test_requests_are_labelled_by_route_template_not_raw_path(settings_for) -> None:
    with running_gateway(settings_for, metrics_token=TOKEN) as live:
        raw = "raw-id-5f3e9a"
        await _get(live.url, f"/admin/api/v1/accounts/{raw}")
        await _get(live.url, f"/static/{raw}.css")
        await _get(live.url, f"/no-such-page/{raw}")
        registered = await service_client(live.settings)
        async with httpx.AsyncClient(base_url=live.url) as http:
            answer = await http.post(
                "/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=(registered.client.client_id, registered.client_secret),
            )
        assert answer.status_code == 200
        scrape = (await _get(live.url, token=TOKEN)).text
    assert raw not in scrape
    assert 'route="/admin/api/v1/accounts/{account_id}"' in scrape
    assert 'route="/static/{path}"' in scrape
    assert 'route="unmatched"' in scrape
    assert 'method="POST",route="/oauth/token",status="200"' in scrape
    client_id = registered.client.client_id
    issued = value(samples(scrape), "yihaotong_tokens_issued_total", client_id=client_id,
                   grant_type="client_credentials")  # fmt: skip
    assert issued == 1
