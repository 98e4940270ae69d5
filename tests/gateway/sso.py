"""What the single sign-on tests share: a citizen, two department apps and a browser, and the
steps of the code flow."""

from __future__ import annotations

from urllib.parse import urlencode

import httpx
import pytest

from tests.gateway.browser import TLS, Browser
from tests.gateway.helpers import second_instance

PASSWORD = "correct horse battery"
CALLBACK = "https://app.example.gov.cn/cb"


@pytest.fixture
async def world(live_server):
    """A citizen account and two department apps (one asks for consent), plus a browser."""
    async with second_instance(live_server.settings) as admin:
        account = await admin.accounts.create_local(
            username="wang",
            password=PASSWORD,
            name="王小明",
            email="wang@example.gov.cn",
            phone="13800138000",
        )
        # Tax reads `sub` as the account id (public, a city-wide decision); health is pairwise.
        tax = await admin.clients.register(
            name="税务服务", redirect_uris=[CALLBACK], subject_type="public"
        )
        health = await admin.clients.register(
            name="医保服务",
            redirect_uris=["https://health.example.gov.cn/cb"],
            require_consent=True,
        )
    browser = Browser(live_server.url)
    try:
        yield {
            "live": live_server,
            "account": account,
            "tax": tax,
            "health": health,
            "browser": browser,
        }
    finally:
        await browser.close()


def code_of(arrival: httpx.Response) -> str:
    """The code in a redirect to the client."""
    return httpx.URL(arrival.headers["location"]).params["code"]


def authorize_url(base: str, client_id: str, redirect_uri: str = CALLBACK, **extra: str) -> str:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": "openid profile email",
        "state": "s-123",
        "nonce": "n-456",
        **extra,
    }
    return f"{base}/oauth/authorize?{urlencode(params)}"


async def exchange(live, registered, code: str, redirect_uri: str = CALLBACK, **extra: str):
    async with httpx.AsyncClient(base_url=live.url, verify=TLS) as http:
        return await http.post(
            "/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                **extra,
            },
            auth=(registered.client.client_id, registered.client_secret),
        )


async def second_app(world, **options):
    options.setdefault("redirect_uris", ["https://office.example.gov.cn/cb"])
    async with second_instance(world["live"].settings) as admin:
        return await admin.clients.register(name="移动办公", **options)
