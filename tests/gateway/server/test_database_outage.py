"""When PostgreSQL drops the gateway's connections (a restart, a failover), a request that
meets a dead pooled connection gets a clear 503 to retry, never a 500, and the next one works."""

from __future__ import annotations

import re
import secrets

import httpx
import pytest

from gateway.oauth.models import digest
from store.records import RefreshToken
from tests.conftest import admin_sql
from tests.gateway.helpers import second_instance, service_client


@pytest.mark.parametrize("backend", ["services"], indirect=True)
async def test_dropped_database_connections_cost_one_retry(live_server) -> None:
    registered = await service_client(
        live_server.settings,
        grant_types=["authorization_code", "refresh_token"],
        redirect_uris=["https://app.example/cb"],
    )
    auth = (registered.client.client_id, registered.client_secret)
    form = {"grant_type": "refresh_token", "refresh_token": "not-a-token"}
    database = live_server.settings.resolved_database_url.rsplit("/", 1)[1]
    assert re.fullmatch(r"yht_test_[0-9a-f]+", database)  # made by the fixture: safe to quote
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        first = await http.post("/oauth/token", data=form, auth=auth)
        assert first.status_code == 400 and first.json()["error"] == "invalid_grant"
        admin_sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "  # noqa: S608
            f"WHERE datname = '{database}' AND pid <> pg_backend_pid()"
        )
        answers = [await http.post("/oauth/token", data=form, auth=auth) for _ in range(3)]
    statuses = [answer.status_code for answer in answers]
    assert 500 not in statuses
    assert statuses[-1] == 400 and answers[-1].json()["error"] == "invalid_grant"
    for answer in answers:
        if answer.status_code == 503:
            assert answer.json()["error"] == "temporarily_unavailable"
            assert answer.headers["retry-after"] == "1"


@pytest.mark.parametrize("backend", ["services"], indirect=True)
async def test_a_refresh_after_the_connections_dropped_is_not_lost(live_server) -> None:
    """Reads are asked again on a fresh connection, so a refresh arriving just after the
    database dropped every connection is answered, not refused for a retry."""
    registered = await service_client(
        live_server.settings,
        grant_types=["authorization_code", "refresh_token"],
        redirect_uris=["https://app.example/cb"],
    )
    token = secrets.token_urlsafe(32)
    async with second_instance(live_server.settings) as services:
        account = await services.accounts.create_local(
            username="outage-refresh", password="correct horse battery 42"
        )
        now = services.clock.now()
        await services.refresh_tokens.add(
            RefreshToken(
                digest=digest(token),
                family_id=secrets.token_urlsafe(32),
                client_id=registered.client.client_id,
                account_id=account.id,
                scope="openid offline_access",
                offline=True,
                auth_time=now,
                created_at=now,
                expires_at=now + 3600,
                amr=("pwd",),
            )
        )
    database = live_server.settings.resolved_database_url.rsplit("/", 1)[1]
    assert re.fullmatch(r"yht_test_[0-9a-f]+", database)
    auth = (registered.client.client_id, registered.client_secret)
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        warm = await http.post(
            "/oauth/token", data={"grant_type": "refresh_token", "refresh_token": "x"}, auth=auth
        )
        assert warm.status_code == 400  # the pool holds a connection now
        admin_sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "  # noqa: S608
            f"WHERE datname = '{database}' AND pid <> pg_backend_pid()"
        )
        answer = await http.post(
            "/oauth/token", data={"grant_type": "refresh_token", "refresh_token": token}, auth=auth
        )
    assert answer.status_code == 200, answer.text
    assert answer.json()["refresh_token"] != token
