"""Signing out everywhere: RP-initiated logout, a real back-channel receiver, front-channel
iframes, session-bound grants, and the my-sessions page — on both backends."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs, urlencode

import httpx
import pytest
from jose import jwt as jose_jwt
from joserfc import jwt
from joserfc.jwk import KeySet
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.conftest import _ThreadedServer, free_port
from tests.gateway.browser import Browser, hidden
from tests.gateway.helpers import fetch_jwks, second_instance

PASSWORD = "correct horse battery"
TAX_CB = "https://tax.example.gov.cn/cb"
OFFICE_CB = "https://office.example.gov.cn/cb"
LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"


class Receiver:
    """A department app's back-channel logout endpoint, on a real socket."""

    def __init__(self, failures_first: int = 0) -> None:
        self.received: list[tuple[str, str]] = []  # (path, logout_token)
        self.failures_left = failures_first
        self.port = free_port()

        async def logout(request: Request) -> Response:
            form = parse_qs((await request.body()).decode())
            self.received.append((request.url.path, form["logout_token"][0]))
            if self.failures_left > 0:
                self.failures_left -= 1
                return Response(status_code=503)
            return Response(status_code=200, headers={"Cache-Control": "no-store"})

        self.app = Starlette(routes=[Route("/{name}/bcl", logout, methods=["POST"])])
        self.server = _ThreadedServer(self.app, self.port)

    def uri(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}/bcl"

    async def wait_for(self, count: int, seconds: float = 10) -> None:
        for _ in range(int(seconds * 20)):
            if len(self.received) >= count:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"received {len(self.received)} of {count} logout tokens")


@pytest.fixture
async def apps(live_server, receiver):
    async with second_instance(live_server.settings) as admin:
        await admin.accounts.create_local(username="li", password=PASSWORD, name="李雷")
        tax = await admin.clients.register(
            name="税务",
            redirect_uris=[TAX_CB],
            post_logout_redirect_uris=["https://tax.example.gov.cn/bye"],
            backchannel_logout_uri=receiver.uri("tax"),
        )
        office = await admin.clients.register(
            name="移动办公",
            redirect_uris=[OFFICE_CB],
            backchannel_logout_uri=receiver.uri("office"),
            frontchannel_logout_uri="https://office.example.gov.cn/fcl",
        )
    return {"tax": tax, "office": office}


def authorize_url(base: str, client_id: str, redirect_uri: str, **extra: str) -> str:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": "openid",
        "state": "st",
        **extra,
    }
    return f"{base}/oauth/authorize?{urlencode(params)}"


async def sign_in_and_exchange(live, browser, registered, redirect_uri, **extra):
    arrival = await browser.go(
        authorize_url(live.url, registered.client.client_id, redirect_uri, **extra),
        username="li",
        password=PASSWORD,
    )
    code = httpx.URL(arrival.headers["location"]).params["code"]
    async with httpx.AsyncClient(base_url=live.url) as http:
        response = await http.post(
            "/oauth/token",
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri},
            auth=(registered.client.client_id, registered.client_secret),
        )
    assert response.status_code == 200, response.text
    return response.json()


async def still_signed_in(live, browser, registered, redirect_uri) -> bool:
    response = await browser.go(
        authorize_url(live.url, registered.client.client_id, redirect_uri, prompt="none")
    )
    return "code" in httpx.URL(response.headers["location"]).params


async def test_rp_initiated_logout_reaches_every_app(live_server, apps, receiver) -> None:
    tax, office = apps["tax"], apps["office"]
    browser = Browser(live_server.url)
    try:
        tax_tokens = await sign_in_and_exchange(live_server, browser, tax, TAX_CB)
        office_tokens = await sign_in_and_exchange(
            live_server, browser, office, OFFICE_CB, scope="openid offline_access", prompt="consent"
        )
        sid = jose_jwt.get_unverified_claims(tax_tokens["id_token"])["sid"]
        response = await browser.http.get(
            "/oauth/logout?"
            + urlencode(
                {
                    "id_token_hint": tax_tokens["id_token"],
                    "post_logout_redirect_uri": "https://tax.example.gov.cn/bye",
                    "state": "bye-1",
                }
            )
        )
        # office has a front-channel URI, so a page loads it before going on.
        assert response.status_code == 200
        assert "https://office.example.gov.cn/fcl?iss=" in response.text
        assert f"sid={sid}" in response.text
        assert "https://tax.example.gov.cn/bye?state=bye-1" in response.text
        assert "yht_session=" in response.headers["set-cookie"]  # cleared

        await receiver.wait_for(2)
        jwks = KeySet.import_key_set(await fetch_jwks(live_server.url))
        by_path = dict(receiver.received)
        for name, registered in (("tax", tax), ("office", office)):
            decoded = jwt.decode(by_path[f"/{name}/bcl"], jwks, algorithms=["RS256"])
            claims = decoded.claims
            assert decoded.header["typ"] == "logout+jwt"
            assert claims["iss"] == live_server.settings.issuer
            assert claims["aud"] == registered.client.client_id
            assert claims["sid"] == sid and claims["sub"]
            assert claims["events"] == {LOGOUT_EVENT: {}}
            assert "nonce" not in claims and claims["exp"] > claims["iat"]

        assert not await still_signed_in(live_server, browser, tax, TAX_CB)
        async with httpx.AsyncClient(base_url=live_server.url) as http:
            tax_auth = (tax.client.client_id, tax.client_secret)
            access = await http.post(
                "/oauth/introspect", data={"token": tax_tokens["access_token"]}, auth=tax_auth
            )
            assert access.json() == {"active": False}
            session_bound = await http.post(
                "/oauth/token",
                data={"grant_type": "refresh_token", "refresh_token": tax_tokens["refresh_token"]},
                auth=tax_auth,
            )
            assert session_bound.json()["error"] == "invalid_grant"
            offline = await http.post(
                "/oauth/token",
                data={
                    "grant_type": "refresh_token",
                    "refresh_token": office_tokens["refresh_token"],
                },
                auth=(office.client.client_id, office.client_secret),
            )
            assert offline.status_code == 200, "offline_access outlives the session"
    finally:
        await browser.close()


async def test_logout_redirects_straight_back_without_front_channel_apps(live_server, apps) -> None:
    browser = Browser(live_server.url)
    try:
        tokens = await sign_in_and_exchange(live_server, browser, apps["tax"], TAX_CB)
        response = await browser.http.post(
            "/oauth/logout",
            data={
                "id_token_hint": tokens["id_token"],
                "post_logout_redirect_uri": "https://tax.example.gov.cn/bye",
                "state": "s",
            },
        )
        assert response.status_code == 303
        assert response.headers["location"] == "https://tax.example.gov.cn/bye?state=s"
    finally:
        await browser.close()


async def test_unregistered_post_logout_uri_is_never_followed(live_server, apps) -> None:
    browser = Browser(live_server.url)
    try:
        tokens = await sign_in_and_exchange(live_server, browser, apps["tax"], TAX_CB)
        for target in ("https://evil.example/", "https://tax.example.gov.cn/bye/", None):
            params = {"post_logout_redirect_uri": target or "https://tax.example.gov.cn/bye"}
            if target is not None:
                params["id_token_hint"] = tokens["id_token"]
            response = await browser.http.get("/oauth/logout?" + urlencode(params))
            assert response.status_code == 400, target
            assert "location" not in response.headers
        assert await still_signed_in(live_server, browser, apps["tax"], TAX_CB)
    finally:
        await browser.close()


async def test_logout_without_a_hint_asks_first(live_server, apps, receiver) -> None:
    browser = Browser(live_server.url)
    try:
        await sign_in_and_exchange(live_server, browser, apps["tax"], TAX_CB)
        asked = await browser.http.get("/oauth/logout")
        assert asked.status_code == 200 and 'value="logout"' in asked.text
        forged = await browser.http.post(
            "/oauth/logout", data={"decision": "logout", "csrf_token": "x"}
        )
        assert forged.status_code == 200 and 'value="logout"' in forged.text
        assert await still_signed_in(live_server, browser, apps["tax"], TAX_CB)
        done = await browser.http.post(
            "/oauth/logout",
            data={"decision": "logout", "csrf_token": hidden(asked.text, "csrf_token")},
        )
        assert done.status_code == 200
        assert not await still_signed_in(live_server, browser, apps["tax"], TAX_CB)
        await receiver.wait_for(1)
    finally:
        await browser.close()


async def test_back_channel_delivery_is_retried(live_server, apps, receiver) -> None:
    receiver.failures_left = 1
    browser = Browser(live_server.url)
    try:
        tokens = await sign_in_and_exchange(live_server, browser, apps["tax"], TAX_CB)
        await browser.http.get("/oauth/logout?" + urlencode({"id_token_hint": tokens["id_token"]}))
        await receiver.wait_for(2)
        first, second = receiver.received[0][1], receiver.received[1][1]
        assert first == second, "the same logout token, sent again"
    finally:
        await browser.close()


async def test_my_sessions_page_ends_another_device(live_server, apps) -> None:
    phone = Browser(live_server.url, user_agent="Mozilla/5.0 (Linux; Android 14) Mobile")
    laptop = Browser(live_server.url, user_agent="Mozilla/5.0 (Windows NT 10.0; Win64; x64)")
    try:
        await sign_in_and_exchange(live_server, phone, apps["tax"], TAX_CB)
        await sign_in_and_exchange(live_server, laptop, apps["office"], OFFICE_CB)
        listing = await laptop.http.get("/account/sessions")
        assert listing.status_code == 200
        assert "Android" in listing.text and "Windows" in listing.text
        assert "税务" in listing.text and "移动办公" in listing.text
        devices = listing.text.split('<ul class="sessions">')[1].split("</ul>")[0]
        assert len(devices.split('name="sid" value="')[1:]) == 2
        phone_sid = next(
            chunk.split('"')[0]
            for chunk in listing.text.split("<li>")[1:]
            if "Android" in chunk
            for chunk in [chunk.split('name="sid" value="')[1]]
        )
        ended = await laptop.http.post(
            "/account/sessions",
            data={"sid": phone_sid, "csrf_token": hidden(listing.text, "csrf_token")},
        )
        assert ended.status_code == 303
        assert not await still_signed_in(live_server, phone, apps["tax"], TAX_CB)
        assert await still_signed_in(live_server, laptop, apps["office"], OFFICE_CB)
        stranger = Browser(live_server.url)
        try:
            anonymous = await stranger.http.get("/account/sessions")
            assert anonymous.status_code == 303 and anonymous.headers["location"].startswith(
                "/login?tx="
            )
        finally:
            await stranger.close()
    finally:
        await phone.close()
        await laptop.close()
