"""The consent page over real HTTP on both backends: asked once, remembered, denied, and asked
again for more."""

from __future__ import annotations

import json

import httpx

from tests.gateway.sso import (
    PASSWORD,
    authorize_url,
    code_of,
    exchange,
)


async def test_consent_is_asked_once_remembered_and_can_be_denied(world) -> None:
    live, health, browser = world["live"], world["health"], world["browser"]
    url = authorize_url(
        live.url, health.client.client_id, redirect_uri="https://health.example.gov.cn/cb"
    )
    denied = await browser.go(url, username="wang", password=PASSWORD, consent="deny")
    assert httpx.URL(denied.headers["location"]).params["error"] == "access_denied"
    assert browser.pages == ["/login", "/consent"]
    silent = await browser.go(
        authorize_url(
            live.url,
            health.client.client_id,
            prompt="none",
            redirect_uri="https://health.example.gov.cn/cb",
        )
    )
    assert httpx.URL(silent.headers["location"]).params["error"] == "consent_required"
    allowed = await browser.go(url)
    assert "code" in httpx.URL(allowed.headers["location"]).params
    assert browser.pages == ["/login", "/consent", "/consent"]
    remembered = await browser.go(url)
    assert "code" in httpx.URL(remembered.headers["location"]).params
    assert browser.pages.count("/consent") == 2
    wider = await browser.go(
        authorize_url(
            live.url,
            health.client.client_id,
            scope="openid phone",
            redirect_uri="https://health.example.gov.cn/cb",
        )
    )
    assert "code" in httpx.URL(wider.headers["location"]).params
    assert browser.pages.count("/consent") == 3, "more scopes: asked again"
    # The government's own apps (no --require-consent) never ask.
    await browser.go(authorize_url(live.url, world["tax"].client.client_id))
    assert browser.pages.count("/consent") == 3


async def test_offline_access_needs_prompt_consent(world) -> None:
    live, tax, browser = world["live"], world["tax"], world["browser"]
    quiet = await browser.go(
        authorize_url(live.url, tax.client.client_id, scope="openid offline_access"),
        username="wang",
        password=PASSWORD,
    )
    tokens = (await exchange(live, tax, code_of(quiet))).json()
    assert tokens["scope"] == "openid", "ignored without prompt=consent (OIDC Core 11)"
    assert "/consent" not in browser.pages
    asked = await browser.go(
        authorize_url(
            live.url, tax.client.client_id, scope="openid offline_access", prompt="consent"
        )
    )
    assert browser.pages.count("/consent") == 1, "prompt=consent asks, even for our own apps"
    tokens = (await exchange(live, tax, code_of(asked))).json()
    assert tokens["scope"] == "openid offline_access"


async def test_claims_named_in_a_request_need_consent_too(world) -> None:
    live, health, browser = world["live"], world["health"], world["browser"]
    redirect = "https://health.example.gov.cn/cb"
    claims = json.dumps({"id_token": {"email": None, "phone_number": None}})
    await browser.go(
        authorize_url(live.url, health.client.client_id, redirect_uri=redirect, scope="openid"),
        username="wang",
        password=PASSWORD,
    )
    assert browser.pages.count("/consent") == 1
    await browser.go(
        authorize_url(
            live.url, health.client.client_id, redirect_uri=redirect, scope="openid", claims=claims
        )
    )
    assert browser.pages.count("/consent") == 2, "email and phone were not consented to yet"
