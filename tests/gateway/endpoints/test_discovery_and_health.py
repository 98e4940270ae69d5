"""Discovery, JWKS and the health probes over real HTTP."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest

from tests.conftest import _admin, free_port, running_gateway


async def test_discovery_lists_what_is_implemented(live_server) -> None:
    issuer = live_server.settings.issuer
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        response = await http.get("/.well-known/openid-configuration")
        rfc8414 = await http.get("/.well-known/oauth-authorization-server")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert "max-age" in response.headers["cache-control"]
    document = response.json()
    assert rfc8414.json() == document
    assert document["issuer"] == issuer
    assert document["token_endpoint"] == f"{issuer}/oauth/token"
    assert document["jwks_uri"] == f"{issuer}/.well-known/jwks.json"
    assert document["grant_types_supported"] == [
        "authorization_code",
        "refresh_token",
        "client_credentials",
        "urn:ietf:params:oauth:grant-type:device_code",
        "urn:ietf:params:oauth:grant-type:token-exchange",
    ]
    assert document["pushed_authorization_request_endpoint"] == f"{issuer}/oauth/par"
    assert document["require_pushed_authorization_requests"] is False
    assert "ES256" in document["dpop_signing_alg_values_supported"]
    assert "HS256" not in document["dpop_signing_alg_values_supported"]
    assert document["token_endpoint_auth_methods_supported"] == [
        "client_secret_basic",
        "client_secret_post",
        "none",
    ]
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert document["response_types_supported"] == ["code"]
    assert document["authorization_response_iss_parameter_supported"] is True
    assert document["backchannel_logout_session_supported"] is True
    # OIDC Discovery §3: the required members are present.
    for required in ("authorization_endpoint", "subject_types_supported",
                     "id_token_signing_alg_values_supported"):  # fmt: skip
        assert document[required]
    # Every endpoint it names answers (with something other than 404 or 5xx).
    async with httpx.AsyncClient() as http:
        gets = ("jwks_uri", "authorization_endpoint", "userinfo_endpoint", "end_session_endpoint")
        posts = (
            "token_endpoint",
            "introspection_endpoint",
            "revocation_endpoint",
            "device_authorization_endpoint",
            "pushed_authorization_request_endpoint",
        )
        for key in gets + posts:
            method = "GET" if key in gets else "POST"
            answer = await http.request(
                method, document[key], data={} if method == "POST" else None
            )
            assert answer.status_code != 404 and answer.status_code < 500, key


async def test_jwks_is_cacheable_and_public_only(live_server) -> None:
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        first = await http.get("/.well-known/jwks.json")
        again = await http.get(
            "/.well-known/jwks.json", headers={"If-None-Match": first.headers["etag"]}
        )
    assert first.status_code == 200
    assert first.headers["cache-control"] == f"public, max-age={live_server.settings.jwks_max_age}"
    keys = first.json()["keys"]
    assert [key["alg"] for key in keys] == ["RS256", "RS256"]  # active and next
    for key in keys:
        assert set(key) == {"kty", "kid", "alg", "use", "n", "e"}
    assert again.status_code == 304
    assert again.content == b""


async def test_public_documents_answer_like_every_other_path(live_server, caplog) -> None:
    """Discovery and JWKS have the common headers, the access line, HEAD, and a 405 for the
    methods they do not take."""
    caplog.set_level(logging.INFO, logger="yihaotong.access")
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        kept = await http.get(
            "/.well-known/openid-configuration", headers={"X-Request-ID": "trace-0123456789"}
        )
        metadata = await http.get("/.well-known/oauth-authorization-server")
        head = await http.head("/.well-known/jwks.json")
        posted = await http.post("/.well-known/jwks.json")
    assert kept.status_code == 200 and kept.json()["issuer"] == live_server.settings.issuer
    assert metadata.content == kept.content
    assert kept.headers["x-request-id"] == "trace-0123456789"
    for answer in (kept, head):
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert answer.headers["access-control-allow-origin"] == "*"
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) > 0
    assert posted.status_code == 405
    lines = [getattr(r, "fields", {}) for r in caplog.records if r.name == "yihaotong.access"]
    assert {
        "request_id": "trace-0123456789",
        "method": "GET",
        "path": "/.well-known/openid-configuration",
        "status": 200,
    }.items() <= next(line for line in lines if line["request_id"] == "trace-0123456789").items()


async def test_public_documents_behind_a_root_path_take_the_routed_way(live_server) -> None:
    """Behind a proxy that sets a root path the same documents are answered, with the
    middleware's headers added once."""
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        direct = await http.get("/.well-known/jwks.json")
    transport = httpx.ASGITransport(app=live_server.app, root_path="/sso")
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        routed = await http.get("/sso/.well-known/jwks.json")
        again = await http.get(
            "/sso/.well-known/jwks.json", headers={"If-None-Match": routed.headers["etag"]}
        )
        metadata = await http.get("/sso/.well-known/openid-configuration")
    assert routed.status_code == 200 and routed.content == direct.content
    assert routed.headers["etag"] == direct.headers["etag"]
    assert routed.headers.get_list("x-content-type-options") == ["nosniff"]
    assert len(routed.headers.get_list("x-request-id")) == 1
    assert again.status_code == 304 and again.content == b""
    assert metadata.json()["issuer"] == live_server.settings.issuer


async def test_health_and_readiness(live_server) -> None:
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        alive = await http.get("/healthz")
        ready = await http.get("/readyz")
    assert alive.status_code == 200 and alive.json() == {"status": "ok"}
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "checks": {"database": "ok", "expiring_store": "ok", "audit": "ok"},
        "audit_spool": {"entries": 0, "oldest_age_s": None},
    }


async def test_not_ready_when_redis_is_unreachable(settings_for) -> None:
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    with running_gateway(settings_for, redis_url=dead_redis) as live:
        async with httpx.AsyncClient(base_url=live.url) as http:
            ready = await http.get("/readyz")
            alive = await http.get("/healthz")
    assert alive.status_code == 200
    assert ready.status_code == 503
    checks = ready.json()["checks"]
    assert checks["database"] == "ok"
    assert checks["expiring_store"].startswith("unreachable")
    assert "127.0.0.1" not in ready.text  # no addresses in the reason


@pytest.mark.parametrize("backend", ["services"])
async def test_not_ready_when_the_database_is_gone(settings_for, backend: str) -> None:
    with running_gateway(settings_for, backend) as live:
        database = live.settings.database_url.rsplit("/", 1)[1]
        await _admin(f'DROP DATABASE "{database}" WITH (FORCE)')
        async with httpx.AsyncClient(base_url=live.url) as http:
            ready = await http.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"].startswith("unreachable")
    assert ready.json()["checks"]["expiring_store"] == "ok"


async def test_unknown_paths_are_json_404(live_server) -> None:
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        response = await http.get("/no/such/thing")
    assert response.status_code == 404
    assert response.json() == {"error": "Not Found"}
    assert response.headers["x-content-type-options"] == "nosniff"
    assert len(response.headers["x-request-id"]) >= 8


async def test_request_id_is_kept_when_well_formed(live_server) -> None:
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        kept = await http.get("/healthz", headers={"X-Request-ID": "trace-0123456789"})
        replaced = await http.get("/healthz", headers={"X-Request-ID": "<script>"})
    assert kept.headers["x-request-id"] == "trace-0123456789"
    assert replaced.headers["x-request-id"] != "<script>"


async def test_concurrent_requests_share_one_event_loop_correctly(live_server) -> None:
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        answers = await asyncio.gather(*(http.get("/.well-known/jwks.json") for _ in range(40)))
    assert {a.status_code for a in answers} == {200}
    assert len({a.content for a in answers}) == 1
