"""The OAuth API endpoints are called before routing and middleware
(gateway.server.app.DIRECT_ROUTES): their answers must be the ones the routed way gives, headers,
access line and errors included."""

from __future__ import annotations

import logging

import httpx
import pytest

from gateway.server.app import DIRECT_ROUTES, create_app
from gateway.server.logs import RequestLogMiddleware
from tests.gateway.helpers import service_client

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _header_names(response: httpx.Response) -> list[str]:
    return sorted(name.lower() for name, _ in response.headers.multi_items())


# The routed way is taken in this test's own event loop (httpx's ASGI transport), which the
# server's PostgreSQL and Redis connections do not belong to: embedded backend only.
@pytest.mark.parametrize("backend", ["embedded"])
async def test_direct_answers_match_the_routed_ones(live_server) -> None:
    """Behind a proxy's root path the same endpoints are reached through Starlette's router
    and middleware; status, body shape and the set of headers must not differ."""
    registered = await service_client(live_server.settings)
    good = {"grant_type": "client_credentials"}
    auth = (registered.client.client_id, registered.client_secret or "")
    calls = [
        ("POST", "/oauth/token", {"data": good, "auth": auth}),
        ("POST", "/oauth/token", {"data": good, "auth": (registered.client.client_id, "wrong")}),
        ("POST", "/oauth/token", {"content": b"grant_type=x&grant_type=y", "headers": FORM}),
        ("POST", "/oauth/introspect", {"data": {"token": "nothing"}, "auth": auth}),
        ("POST", "/oauth/revoke", {"data": {"token": "nothing"}, "auth": auth}),
        ("GET", "/oauth/userinfo", {"headers": {"Authorization": "Bearer not-a-token"}}),
        ("POST", "/oauth/userinfo", {"data": {"access_token": "x"}}),
        ("GET", "/login/scan/wait?tx=unknown&since=waiting", {}),
    ]
    transport = httpx.ASGITransport(app=live_server.app, root_path="/sso")
    statuses = []
    async with (
        httpx.AsyncClient(base_url=live_server.url) as direct_http,
        httpx.AsyncClient(transport=transport, base_url="http://gateway") as routed_http,
    ):
        for method, path, options in calls:
            direct = await direct_http.request(method, path, **options)
            routed = await routed_http.request(method, "/sso" + path, **options)
            label = f"{method} {path} -> {direct.status_code}"
            statuses.append(direct.status_code)
            assert direct.status_code == routed.status_code, label
            assert direct.headers.get("content-type") == routed.headers.get("content-type"), label
            # uvicorn adds date and server on the socket; the in-process transport does not.
            assert [n for n in _header_names(direct) if n not in ("date", "server")] == (
                _header_names(routed)
            ), label
            assert direct.headers.get_list("x-content-type-options") == ["nosniff"], label
            assert len(direct.headers.get_list("x-request-id")) == 1, label
            if direct.headers.get("content-type") == "application/json":
                assert set(direct.json()) == set(routed.json()), label
    # Success and each kind of refusal were compared.
    assert statuses == [200, 401, 400, 200, 200, 401, 401, 200]


async def test_direct_route_keeps_request_id_logs_and_other_methods(live_server, caplog) -> None:
    caplog.set_level(logging.INFO, logger="yihaotong.access")
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        kept = await http.post(
            "/oauth/introspect", data={"token": "x"}, headers={"X-Request-ID": "trace-direct-01"}
        )
        wrong_method = await http.get("/oauth/introspect")
        head = await http.head("/oauth/userinfo")
    assert kept.status_code == 401  # no client authentication
    assert kept.headers["x-request-id"] == "trace-direct-01"
    assert kept.headers["referrer-policy"] == "no-referrer"
    assert wrong_method.status_code == 405  # not a direct route: the router answers
    assert head.status_code == 401  # HEAD is routed as GET
    lines = [getattr(r, "fields", {}) for r in caplog.records if r.name == "yihaotong.access"]
    line = next(line for line in lines if line.get("request_id") == "trace-direct-01")
    assert {"method": "POST", "path": "/oauth/introspect", "status": 401}.items() <= line.items()


async def test_direct_route_failure_is_a_json_500_with_its_log(
    live_server, monkeypatch, caplog
) -> None:
    """An error nobody handles is answered by the same handler as on the routed way: an OAuth
    error body, no trace to the client, the traceback in the log."""
    registered = await service_client(live_server.settings)

    def broken(request: object) -> None:
        raise RuntimeError("token generation broke")

    monkeypatch.setattr(live_server.app.state.oauth, "create_token_response", broken)
    caplog.set_level(logging.INFO)
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        answer = await http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(registered.client.client_id, registered.client_secret or ""),
            headers={"X-Request-ID": "trace-direct-500"},
        )
    assert answer.status_code == 500
    assert answer.json()["error"] == "server_error"
    assert "token generation broke" not in answer.text
    assert answer.headers["x-request-id"] == "trace-direct-500"
    assert answer.headers["cache-control"] == "no-store"
    errors = [r for r in caplog.records if r.getMessage() == "unhandled error"]
    assert errors and errors[-1].exc_info is not None
    access = [getattr(r, "fields", {}) for r in caplog.records if r.name == "yihaotong.access"]
    assert any(
        line.get("request_id") == "trace-direct-500" and line.get("status") == 500
        for line in access
    )


def test_the_direct_routes_skip_no_middleware_they_do_not_reproduce(settings_for) -> None:
    """``Gateway._call_directly`` does by hand what RequestLogMiddleware does (request id,
    security headers, access line). A middleware added to the app would be skipped silently
    by the direct routes: it must be reproduced there too, and then listed here."""
    app = create_app(settings_for())
    reproduced = {RequestLogMiddleware}
    assert DIRECT_ROUTES, "no direct routes: this test and the shortcut can go"
    assert {middleware.cls for middleware in app.user_middleware} == reproduced
