"""RFC 8252 §7.3's loopback redirect on any port is for native apps (public clients) only, at
every place a redirect URI is checked: authorization, the code exchange and the post-logout
redirect. ``localhost`` is matched exactly for both kinds of client, and a native app cannot
register it at all (RFC 8252 §8.3)."""

from __future__ import annotations

from urllib.parse import urlencode

import httpx
import pytest

from tests.gateway.browser import Browser, pkce_pair
from tests.gateway.helpers import second_instance

PASSWORD = "correct horse battery"
REGISTERED = ["http://127.0.0.1:9/cb", "http://[::1]:9/cb", "http://localhost:9/cb"]
OTHER_PORT = {uri: uri.replace(":9/", ":10/") for uri in REGISTERED}
OUT = ["http://127.0.0.1:9/out", "http://[::1]:9/out", "http://localhost:9/out"]


@pytest.fixture
async def clients(live_server):
    async with second_instance(live_server.settings) as admin:
        await admin.accounts.create_local(username="zhao", password=PASSWORD)
        web = await admin.clients.register(
            name="web", redirect_uris=REGISTERED, post_logout_redirect_uris=OUT
        )
        native = await admin.clients.register(
            name="native", redirect_uris=REGISTERED[:2], post_logout_redirect_uris=OUT, public=True
        )
    browser = Browser(live_server.url)
    try:
        await browser.go(
            authorize(live_server.url, web.client.client_id, REGISTERED[0]),
            username="zhao",
            password=PASSWORD,
        )
        yield {"live": live_server, "web": web, "native": native, "browser": browser}
    finally:
        await browser.close()


def authorize(base: str, client_id: str, redirect_uri: str, **extra: str) -> str:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": "openid",
        **extra,
    }
    return f"{base}/oauth/authorize?{urlencode(params)}"


async def code_for(world, kind: str, redirect_uri: str) -> tuple[httpx.Response, str]:
    """The authorization answer for ``redirect_uri``, and the PKCE verifier used."""
    verifier, challenge = pkce_pair()
    client_id = world[kind].client.client_id
    url = authorize(
        world["live"].url,
        client_id,
        redirect_uri,
        code_challenge=challenge,
        code_challenge_method="S256",
    )
    return await world["browser"].go(url), verifier


async def exchange(world, kind: str, code: str, redirect_uri: str, verifier: str):
    registered = world[kind]
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
    }
    auth = None
    if kind == "web":
        auth = (registered.client.client_id, registered.client_secret)
    else:
        form["client_id"] = registered.client.client_id
    async with httpx.AsyncClient(base_url=world["live"].url) as http:
        return await http.post("/oauth/token", data=form, auth=auth)


def refused_with_a_page(answer: httpx.Response) -> bool:
    return answer.status_code == 400 and "location" not in answer.headers


def sent_to(answer: httpx.Response, redirect_uri: str) -> bool:
    location = answer.headers.get("location", "")
    return answer.status_code in (302, 303) and location.startswith(redirect_uri + "?code=")


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
@pytest.mark.parametrize("registered", REGISTERED)
async def test_a_web_client_gets_its_code_only_on_the_registered_port(clients, registered) -> None:
    answer, verifier = await code_for(clients, "web", OTHER_PORT[registered])
    assert refused_with_a_page(answer), answer.headers.get("location")
    answer, verifier = await code_for(clients, "web", registered)
    assert sent_to(answer, registered)
    code = httpx.URL(answer.headers["location"]).params["code"]
    refused = await exchange(clients, "web", code, OTHER_PORT[registered], verifier)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
@pytest.mark.parametrize("registered", REGISTERED)
async def test_a_native_app_may_use_any_loopback_ip_port(clients, registered) -> None:
    other = OTHER_PORT[registered]
    answer, verifier = await code_for(clients, "native", other)
    if "localhost" in registered:
        assert refused_with_a_page(answer), answer.headers.get("location")
        return
    assert sent_to(answer, other), answer.headers.get("location")
    code = httpx.URL(answer.headers["location"]).params["code"]
    # The exchange names the port the code was sent to, not another one.
    elsewhere = other.replace(":10/", ":11/")
    refused = await exchange(clients, "native", code, elsewhere, verifier)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    answer, verifier = await code_for(clients, "native", other)
    code = httpx.URL(answer.headers["location"]).params["code"]
    granted = await exchange(clients, "native", code, other, verifier)
    assert granted.status_code == 200, granted.text


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_post_logout_redirects_follow_the_same_rule(clients) -> None:
    live = clients["live"]
    async with httpx.AsyncClient(base_url=live.url) as http:
        for out in OUT:
            moved = out.replace(":9/", ":10/")
            for kind in ("web", "native"):
                client_id = clients[kind].client.client_id
                params = {"client_id": client_id, "post_logout_redirect_uri": out, "state": "s"}
                exact = await http.get("/oauth/logout", params=params)
                assert exact.status_code == 303, (kind, out)
                assert exact.headers["location"] == f"{out}?state=s"
                params["post_logout_redirect_uri"] = moved
                answer = await http.get("/oauth/logout", params=params)
                if kind == "native" and "localhost" not in out:
                    assert answer.status_code == 303, (kind, moved)
                    assert answer.headers["location"] == f"{moved}?state=s"
                else:
                    assert refused_with_a_page(answer), (kind, moved)
