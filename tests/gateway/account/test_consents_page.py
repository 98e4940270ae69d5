"""The my-sessions page's consents over real HTTP on both backends."""

from __future__ import annotations

import httpx

from tests.gateway.sso import (
    PASSWORD,
    authorize_url,
    code_of,
    exchange,
)


async def test_revoking_a_consent_asks_again_and_ends_its_refresh_tokens(world) -> None:
    live, health, browser = world["live"], world["health"], world["browser"]
    redirect = "https://health.example.gov.cn/cb"
    url = authorize_url(
        live.url,
        health.client.client_id,
        redirect_uri=redirect,
        scope="openid offline_access",
        prompt="consent",
    )
    arrival = await browser.go(url, username="wang", password=PASSWORD)
    tokens = (
        await exchange(
            live,
            health,
            code_of(arrival),
            redirect_uri=redirect,
        )
    ).json()
    account_page = await browser.http.get("/account/sessions")
    assert "医保服务" in account_page.text and "在您离开后继续访问（长期授权）" in account_page.text
    # The last form on the page is the consents form, with its own CSRF token.
    consents_csrf = account_page.text.split('name="csrf_token" value="')[-1].split('"')[0]
    revoked = await browser.http.post(
        "/account/consents",
        data={"client_id": health.client.client_id, "csrf_token": consents_csrf},
    )
    assert revoked.status_code == 303
    async with httpx.AsyncClient(base_url=live.url) as http:
        refreshed = await http.post(
            "/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
            auth=(health.client.client_id, health.client_secret),
        )
    assert refreshed.json()["error"] == "invalid_grant"
    again = await browser.go(url)
    assert "code" in httpx.URL(again.headers["location"]).params
    assert browser.pages.count("/consent") == 2, "asked again"
