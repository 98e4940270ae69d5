"""What the tokens say about a person over real HTTP on both backends: claims requests and
pairwise subjects."""

from __future__ import annotations

import json

import httpx
from jose import jwt as jose_jwt

from tests.gateway.helpers import second_instance
from tests.gateway.sso import (
    PASSWORD,
    authorize_url,
    code_of,
    exchange,
)


async def test_pairwise_subjects_differ_per_sector(world) -> None:
    live, browser = world["live"], world["browser"]
    async with second_instance(live.settings) as admin:
        one = await admin.clients.register(
            name="A", redirect_uris=["https://a.example/cb"], subject_type="pairwise"
        )
        two = await admin.clients.register(
            name="B", redirect_uris=["https://b.example/cb"], subject_type="pairwise"
        )
    subs = []
    for registered, uri in ((one, "https://a.example/cb"), (two, "https://b.example/cb")):
        arrival = await browser.go(
            authorize_url(live.url, registered.client.client_id, redirect_uri=uri),
            username="wang",
            password=PASSWORD,
        )
        tokens = (
            await exchange(
                live,
                registered,
                code_of(arrival),
                redirect_uri=uri,
            )
        ).json()
        claims = jose_jwt.get_unverified_claims(tokens["id_token"])
        async with httpx.AsyncClient(base_url=live.url) as http:
            info = await http.get(
                "/oauth/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
            )
        assert info.status_code == 200 and info.json()["sub"] == claims["sub"]
        subs.append(claims["sub"])
    assert subs[0] != subs[1]
    assert world["account"].id not in subs


async def test_claims_request_adds_id_token_claims(world) -> None:
    live, tax, browser = world["live"], world["tax"], world["browser"]
    claims = json.dumps({"id_token": {"email": {"essential": True}, "unknown_claim": None}})
    arrival = await browser.go(
        authorize_url(live.url, tax.client.client_id, scope="openid", claims=claims),
        username="wang",
        password=PASSWORD,
    )
    tokens = (await exchange(live, tax, code_of(arrival))).json()
    id_claims = jose_jwt.get_unverified_claims(tokens["id_token"])
    assert id_claims["email"] == "wang@example.gov.cn"
    assert "name" not in id_claims and "unknown_claim" not in id_claims


async def test_a_claims_request_for_another_sub_is_never_answered(world) -> None:
    live, tax, browser = world["live"], world["tax"], world["browser"]
    await browser.go(
        authorize_url(live.url, tax.client.client_id), username="wang", password=PASSWORD
    )
    claims = json.dumps({"id_token": {"sub": {"value": "someone-else"}}})
    silent = await browser.go(
        authorize_url(live.url, tax.client.client_id, prompt="none", claims=claims)
    )
    assert httpx.URL(silent.headers["location"]).params["error"] == "login_required"
    asked = await browser.go(
        authorize_url(live.url, tax.client.client_id, claims=claims),
        username="wang",
        password=PASSWORD,
    )
    assert httpx.URL(asked.headers["location"]).params["error"] == "login_required"
    own = json.dumps({"id_token": {"sub": {"value": world["account"].id}}})
    fine = await browser.go(authorize_url(live.url, tax.client.client_id, claims=own))
    assert "code" in httpx.URL(fine.headers["location"]).params


async def test_deep_claims_requests_are_refused_with_a_reason(world) -> None:
    """A claims parameter nested deeper than any claims request needs is refused before it
    is parsed (every JSON the gateway reads is limited in depth and size)."""
    live, tax, browser = world["live"], world["tax"], world["browser"]
    deep = '{"userinfo":{"email":' + "[" * 480 + "]" * 480 + "}}"
    response = await browser.go(
        authorize_url(live.url, tax.client.client_id, claims=deep),
        username="wang",
        password=PASSWORD,
    )
    params = httpx.URL(response.headers["location"]).params
    assert response.status_code == 303 and "code" not in params
    assert params["error"] == "invalid_request"
    assert params["error_description"].startswith("claims: ")
