"""What the scan-to-sign-in tests share: a gateway whose settings list the city's app, a
person signed in to that app (its access token from a real code flow), a department web app
to sign in to on the PC, and a scripted app client."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx
import pytest

from store.clock import FakeClock
from tests.conftest import running_gateway
from tests.gateway.browser import Browser, hidden, pkce_pair
from tests.gateway.helpers import second_instance

PASSWORD = "correct horse battery"
APP_CALLBACK = "https://app.yihaotong.example/cb"
WEB_CALLBACK = "https://tax.example.gov.cn/cb"


@dataclass
class ScanWorld:
    live: object
    app_id: str
    other_app_id: str
    web_id: str
    web_secret: str
    clock: FakeClock | None

    @property
    def url(self) -> str:
        return self.live.url  # type: ignore[attr-defined]

    def authorize_url(self) -> str:
        params = {
            "response_type": "code",
            "client_id": self.web_id,
            "redirect_uri": WEB_CALLBACK,
            "scope": "openid profile",
            "state": "s1",
            "nonce": "n1",
        }
        return f"{self.url}/oauth/authorize?{urlencode(params)}"


@pytest.fixture(params=["embedded", "services"])
async def scan_world(request, settings_for):
    backend = request.param
    async with second_instance(settings_for(backend)) as admin:
        await admin.accounts.create_local(username="zhang", password=PASSWORD, name="张伟")
        app = await admin.clients.register(name="一号通", redirect_uris=[APP_CALLBACK], public=True)
        other = await admin.clients.register(
            name="移动办公", redirect_uris=[APP_CALLBACK], public=True
        )
        web = await admin.clients.register(name="电子税务局", redirect_uris=[WEB_CALLBACK])
    clock = FakeClock() if backend == "embedded" else None
    apps = [app.client.client_id, other.client.client_id]
    with running_gateway(
        settings_for, backend, clock=clock, mobile_app_clients=apps, client_cache_seconds=0
    ) as live:
        yield ScanWorld(
            live,
            app.client.client_id,
            other.client.client_id,
            web.client.client_id,
            web.client_secret or "",
            clock,
        )


async def app_token(world: ScanWorld, client_id: str | None = None, username: str = "zhang") -> str:
    """The app's access token, from a code flow with PKCE in the app's own browser."""
    return (await app_tokens(world, client_id, username))["access_token"]


async def app_tokens(
    world: ScanWorld,
    client_id: str | None = None,
    username: str = "zhang",
    device_name: str | None = None,
) -> dict:
    """The app's token response (``device_name`` sent with the code, as the app does)."""
    client_id = client_id or world.app_id
    verifier, challenge = pkce_pair()
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": APP_CALLBACK,
        "scope": "openid profile offline_access",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    browser = Browser(world.url)
    try:
        arrival = await browser.go(
            f"/oauth/authorize?{urlencode(params)}", username=username, password=PASSWORD
        )
    finally:
        await browser.close()
    code = httpx.URL(arrival.headers["location"]).params["code"]
    async with httpx.AsyncClient(base_url=world.url) as http:
        tokens = await http.post(
            "/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": APP_CALLBACK,
                "client_id": client_id,
                "code_verifier": verifier,
                **({"device_name": device_name} if device_name else {}),
            },
        )
    assert tokens.status_code == 200, tokens.text
    return tokens.json()


class App:
    """The scripted 一号通 app: its calls with its access token."""

    def __init__(self, world: ScanWorld, token: str) -> None:
        self.http = httpx.AsyncClient(
            base_url=world.url, headers={"Authorization": f"Bearer {token}"}
        )

    async def call(self, what: str, ticket: str) -> httpx.Response:
        path = "/mobile/scan" if what == "scan" else f"/mobile/scan/{what}"
        return await self.http.post(path, json={"ticket": ticket})

    async def close(self) -> None:
        await self.http.aclose()


def qr_url(html: str) -> str:
    """The URL the QR code holds, from the visible link beside it."""
    match = re.search(r'class="qr-link" href="([^"]+)"', html)
    assert match, "no scan link on the page"
    return match.group(1)


async def pc_at_scan_tab(world: ScanWorld) -> tuple[Browser, str, str]:
    """A PC browser on the sign-in page's QR tab: the browser, its transaction, the QR URL."""
    browser = Browser(world.url, user_agent="Mozilla/5.0 (Windows NT 10.0) Chrome/120.0 Safari/537")
    response = await browser.http.get(world.authorize_url())
    login = await browser.http.get(response.headers["location"])
    tx = hidden(login.text, "tx")
    assert "/login/scan?tx=" in login.text  # the tab is offered
    page = await browser.http.get(f"/login/scan?tx={tx}")
    assert page.status_code == 200
    return browser, tx, qr_url(page.text)
