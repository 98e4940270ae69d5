"""PKCE (RFC 7636, RFC 9700 §2.1.1) over real HTTP on both backends."""

from __future__ import annotations

import httpx

from tests.gateway.browser import pkce_pair
from tests.gateway.sso import (
    PASSWORD,
    authorize_url,
    code_of,
    exchange,
    second_app,
)


async def test_pkce_rules(world) -> None:
    live, tax, browser = world["live"], world["tax"], world["browser"]
    native = await second_app(world, public=True)
    await browser.go(
        authorize_url(live.url, tax.client.client_id), username="wang", password=PASSWORD
    )
    office = "https://office.example.gov.cn/cb"
    # A public client must send a challenge; plain is not accepted from anyone.
    missing = await browser.go(
        authorize_url(live.url, native.client.client_id, redirect_uri=office)
    )
    assert httpx.URL(missing.headers["location"]).params["error"] == "invalid_request"
    verifier, challenge = pkce_pair()
    plain = await browser.go(
        authorize_url(
            live.url, tax.client.client_id, code_challenge=verifier, code_challenge_method="plain"
        )
    )
    assert httpx.URL(plain.headers["location"]).params["error"] == "invalid_request"
    # The right verifier works for the public client (no secret).
    ok = await browser.go(
        authorize_url(
            live.url,
            native.client.client_id,
            redirect_uri=office,
            code_challenge=challenge,
            code_challenge_method="S256",
        )
    )
    code = code_of(ok)
    async with httpx.AsyncClient(base_url=live.url) as http:
        wrong = await http.post(
            "/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": office,
                "client_id": native.client.client_id,
                "code_verifier": pkce_pair()[0],
            },
        )
        assert wrong.json()["error"] == "invalid_grant"
        ok = await browser.go(
            authorize_url(
                live.url,
                native.client.client_id,
                redirect_uri=office,
                code_challenge=challenge,
                code_challenge_method="S256",
            )
        )
        good = await http.post(
            "/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": code_of(ok),
                "redirect_uri": office,
                "client_id": native.client.client_id,
                "code_verifier": verifier,
            },
        )
        assert good.status_code == 200, good.text
    # A verifier without a challenge is refused (RFC 9700 §4.8.2).
    bare = await browser.go(authorize_url(live.url, tax.client.client_id))
    refused = await exchange(live, tax, code_of(bare), code_verifier=verifier)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_request"


async def test_a_code_issued_with_a_challenge_needs_its_verifier(world) -> None:
    """RFC 7636 §4.6: without the matching code_verifier the grant is refused as
    invalid_grant, whether the verifier is wrong, malformed or missing, for either kind of
    client."""
    live, tax, browser = world["live"], world["tax"], world["browser"]
    native = await second_app(world, public=True)
    office = "https://office.example.gov.cn/cb"
    await browser.go(
        authorize_url(live.url, tax.client.client_id), username="wang", password=PASSWORD
    )
    verifier, challenge = pkce_pair()
    pkce = {"code_challenge": challenge, "code_challenge_method": "S256"}
    for sent in [None, "short", "x" * 129, pkce_pair()[0]]:
        extra = {} if sent is None else {"code_verifier": sent}
        arrival = await browser.go(authorize_url(live.url, tax.client.client_id, **pkce))
        refused = await exchange(live, tax, code_of(arrival), **extra)
        assert refused.status_code == 400, (sent, refused.text)
        assert refused.json()["error"] == "invalid_grant", sent
        arrival = await browser.go(
            authorize_url(live.url, native.client.client_id, redirect_uri=office, **pkce)
        )
        async with httpx.AsyncClient(base_url=live.url) as http:
            refused = await http.post(
                "/oauth/token",
                data={
                    "grant_type": "authorization_code",
                    "code": code_of(arrival),
                    "redirect_uri": office,
                    "client_id": native.client.client_id,
                    **extra,
                },
            )
        assert refused.status_code == 400, (sent, refused.text)
        assert refused.json()["error"] == "invalid_grant", sent
    arrival = await browser.go(authorize_url(live.url, tax.client.client_id, **pkce))
    good = await exchange(live, tax, code_of(arrival), code_verifier=verifier)
    assert good.status_code == 200, good.text
