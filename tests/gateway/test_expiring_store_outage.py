"""When Redis cannot be reached, requests that need it get a clear 503 to retry, never a 500,
and nothing is confirmed to the client that was not stored."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import running_gateway
from tests.gateway.helpers import service_client
from tests.redis_cluster import _redis_server, require_redis_binaries
from tests.support import free_port


@pytest.fixture
def own_redis(tmp_path):
    """A Redis of this test's own, so that it can be stopped."""
    require_redis_binaries()
    port = free_port()
    server = _redis_server(tmp_path, port)
    try:
        yield f"redis://127.0.0.1:{port}/0", server
    finally:
        server.stop()


async def test_an_unreachable_expiring_store_is_a_503(settings_for, own_redis) -> None:
    url, server = own_redis
    with running_gateway(settings_for, "services", redis_url=url) as live:
        registered = await service_client(live.settings, access_token_format="opaque")
        auth = (registered.client.client_id, registered.client_secret)
        form = {"grant_type": "client_credentials"}
        async with httpx.AsyncClient(base_url=live.url) as http:
            issued = await http.post("/oauth/token", data=form, auth=auth)
            assert issued.status_code == 200, issued.text
            token = issued.json()["access_token"]
            server.stop()
            answers = [
                await http.post("/oauth/token", data=form, auth=auth),
                await http.post("/oauth/introspect", data={"token": token}, auth=auth),
                await http.get("/oauth/userinfo", headers={"Authorization": f"Bearer {token}"}),
            ]
    for answer in answers:
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"] == "temporarily_unavailable"
        assert answer.headers["retry-after"] == "1"
        assert answer.headers["cache-control"] == "no-store"
        assert "Traceback" not in answer.text
