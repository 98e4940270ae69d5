"""Pushed authorization requests (RFC 9126) over real HTTP on both backends: the endpoint
authenticates the client as the token endpoint does and checks the request; its request_uri is
single-use, expires and is bound to the client; clients (or the whole server) can require it."""

from __future__ import annotations

from urllib.parse import urlencode

import httpx
import pytest

from store.clock import FakeClock
from tests.conftest import running_gateway
from tests.gateway.browser import Browser, pkce_pair
from tests.gateway.helpers import second_instance

PASSWORD = "correct horse battery"
CALLBACK = "https://app.example.gov.cn/cb"
NATIVE = "cn.gov.city.app:/callback"


async def _world(live):
    async with second_instance(live.settings) as admin:
        await admin.accounts.create_local(username="zhou", password=PASSWORD)
        web = await admin.clients.register(name="不动产登记", redirect_uris=[CALLBACK])
        strict = await admin.clients.register(
            name="公积金", redirect_uris=[CALLBACK], require_pushed_authorization_requests=True
        )
        native = await admin.clients.register(name="一号通", redirect_uris=[NATIVE], public=True)
    return {"live": live, "web": web, "strict": strict, "native": native}


@pytest.fixture
async def world(live_server):
    return await _world(live_server)


async def push(live, registered, **params: str) -> httpx.Response:
    form = {
        "response_type": "code",
        "redirect_uri": CALLBACK,
        "scope": "openid",
        "state": "pushed-state",
        **params,
    }
    auth = None
    if registered.client_secret:
        auth = (registered.client.client_id, registered.client_secret)
    else:
        form["client_id"] = registered.client.client_id
    async with httpx.AsyncClient(base_url=live.url) as http:
        return await http.post("/oauth/par", data=form, auth=auth)


def authorize(live, client_id: str, **params: str) -> str:
    return f"{live.url}/oauth/authorize?{urlencode({'client_id': client_id, **params})}"


async def test_a_pushed_request_is_used_once_by_its_client(world) -> None:
    live, web, strict = world["live"], world["web"], world["strict"]
    pushed = await push(live, web)
    assert pushed.status_code == 201, pushed.text
    body = pushed.json()
    assert body["request_uri"].startswith("urn:ietf:params:oauth:request_uri:")
    assert body["expires_in"] == 60
    assert pushed.headers["cache-control"] == "no-store"
    browser = Browser(live.url)
    try:
        arrival = await browser.go(
            authorize(live, web.client.client_id, request_uri=body["request_uri"]),
            username="zhou",
            password=PASSWORD,
        )
        assert arrival.status_code == 303, arrival.text
        location = httpx.URL(arrival.headers["location"])
        assert str(location).startswith(CALLBACK)
        assert location.params["state"] == "pushed-state" and "code" in location.params
        again = await browser.go(
            authorize(live, web.client.client_id, request_uri=body["request_uri"])
        )
        assert again.status_code == 400 and "location" not in again.headers
        # Presented by another client, a request_uri is refused and spent (it leaked).
        leaked = (await push(live, web)).json()["request_uri"]
        stolen = await browser.go(authorize(live, strict.client.client_id, request_uri=leaked))
        assert stolen.status_code == 400 and "location" not in stolen.headers
        after = await browser.go(authorize(live, web.client.client_id, request_uri=leaked))
        assert after.status_code == 400
        forged = await browser.go(
            authorize(live, web.client.client_id, request_uri="urn:ietf:params:oauth:request_uri:x")
        )
        assert forged.status_code == 400
    finally:
        await browser.close()
    async with httpx.AsyncClient(base_url=live.url) as http:
        tokens = await http.post(
            "/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": location.params["code"],
                "redirect_uri": CALLBACK,
            },
            auth=(web.client.client_id, web.client_secret),
        )
    assert tokens.status_code == 200, tokens.text


async def test_a_client_that_requires_par_cannot_skip_it(world) -> None:
    live, strict = world["live"], world["strict"]
    browser = Browser(live.url)
    try:
        for extra in ({}, {"yihaotong:pushed": "1"}):
            direct = await browser.go(
                authorize(
                    live,
                    strict.client.client_id,
                    response_type="code",
                    redirect_uri=CALLBACK,
                    scope="openid",
                    state="s",
                    **extra,
                )
            )
            assert direct.status_code == 303
            refused = httpx.URL(direct.headers["location"])
            assert refused.params["error"] == "invalid_request" and refused.params["state"] == "s"
        pushed = (await push(live, strict)).json()
        arrival = await browser.go(
            authorize(live, strict.client.client_id, request_uri=pushed["request_uri"]),
            username="zhou",
            password=PASSWORD,
        )
        assert "code" in httpx.URL(arrival.headers["location"]).params
    finally:
        await browser.close()


async def test_the_endpoint_checks_the_client_and_the_request(world) -> None:
    live, web, native = world["live"], world["web"], world["native"]
    async with httpx.AsyncClient(base_url=live.url) as http:
        wrong_secret = await http.post(
            "/oauth/par",
            data={"response_type": "code", "redirect_uri": CALLBACK},
            auth=(web.client.client_id, "nope"),
        )
        assert wrong_secret.status_code == 401
        assert wrong_secret.json()["error"] == "invalid_client"
        anonymous = await http.post("/oauth/par", data={"response_type": "code"})
        assert anonymous.status_code in (400, 401)
        assert anonymous.json()["error"] == "invalid_client"
    nested = await push(live, web, request_uri="urn:ietf:params:oauth:request_uri:abc")
    assert nested.status_code == 400 and nested.json()["error"] == "invalid_request"
    elsewhere = await push(live, web, redirect_uri="https://evil.example/cb")
    assert elsewhere.status_code == 400 and elsewhere.json()["error"] == "invalid_request"
    other_client = await push(live, web, client_id=native.client.client_id)
    assert other_client.status_code == 400
    bad_type = await push(live, web, response_type="token")
    assert bad_type.status_code == 400
    assert bad_type.json()["error"] == "unsupported_response_type"
    # A public client pushes with its client_id alone, and PKCE is required as ever.
    no_pkce = await push(live, native, redirect_uri=NATIVE)
    assert no_pkce.status_code == 400 and no_pkce.json()["error"] == "invalid_request"
    _, challenge = pkce_pair()
    fine = await push(
        live, native, redirect_uri=NATIVE, code_challenge=challenge, code_challenge_method="S256"
    )
    assert fine.status_code == 201, fine.text


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_discovery_names_the_endpoint(world) -> None:
    async with httpx.AsyncClient(base_url=world["live"].url) as http:
        metadata = (await http.get("/.well-known/openid-configuration")).json()
    assert metadata["pushed_authorization_request_endpoint"] == world["live"].url + "/oauth/par"
    assert metadata["require_pushed_authorization_requests"] is False


async def test_a_request_uri_expires_and_the_server_can_require_par(settings_for) -> None:
    clock = FakeClock(1_800_000_000.0)
    options = {"require_pushed_authorization_requests": True, "par_lifetime": 30}
    with running_gateway(settings_for, "embedded", clock, **options) as live:
        world = await _world(live)
        web = world["web"]
        async with httpx.AsyncClient(base_url=live.url) as http:
            metadata = (await http.get("/.well-known/openid-configuration")).json()
        assert metadata["require_pushed_authorization_requests"] is True
        browser = Browser(live.url)
        try:
            direct = await browser.go(
                authorize(live, web.client.client_id, response_type="code", redirect_uri=CALLBACK)
            )
            assert httpx.URL(direct.headers["location"]).params["error"] == "invalid_request"
            pushed = (await push(live, web)).json()
            assert pushed["expires_in"] == 30
            clock.advance(31)
            late = await browser.go(
                authorize(live, web.client.client_id, request_uri=pushed["request_uri"])
            )
            assert late.status_code == 400 and "location" not in late.headers
        finally:
            await browser.close()
