"""The authorization endpoint over real HTTP on both backends: Authlib's OAuth client as the
relying party, a scripted browser signing in, what goes back to the client and what gets a
page instead."""

from __future__ import annotations

import httpx
from authlib.integrations.httpx_client import AsyncOAuth2Client
from jose import jwt as jose_jwt

from tests.gateway.browser import hidden, pkce_pair
from tests.gateway.helpers import fetch_jwks, second_instance
from tests.gateway.recovery_flow import give_phone
from tests.gateway.sso import (
    CALLBACK,
    PASSWORD,
    authorize_url,
    code_of,
    exchange,
    second_app,
)


async def test_full_flow_with_authlib_as_the_relying_party(world) -> None:
    live, tax, browser = world["live"], world["tax"], world["browser"]
    async with second_instance(live.settings) as admin:
        await give_phone(admin, world["account"].id, "13912345678")
    rp = AsyncOAuth2Client(
        client_id=tax.client.client_id,
        client_secret=tax.client_secret,
        redirect_uri=CALLBACK,
        scope="openid profile email phone",
        code_challenge_method="S256",
    )
    verifier, _ = pkce_pair()
    url, state = rp.create_authorization_url(
        f"{live.url}/oauth/authorize", code_verifier=verifier, nonce="nonce-1"
    )
    arrival = await browser.go(url, username="wang", password=PASSWORD)
    assert arrival.status_code == 303
    location = arrival.headers["location"]
    assert location.startswith(CALLBACK + "?")
    params = httpx.URL(location).params
    assert params["state"] == state
    assert params["iss"] == live.settings.issuer  # RFC 9207
    assert len(params["code"]) >= 22  # ≥ 128 bits

    token = await rp.fetch_token(
        f"{live.url}/oauth/token", authorization_response=location, code_verifier=verifier
    )
    await rp.aclose()
    assert token["token_type"].lower() == "bearer"
    assert {"access_token", "id_token", "refresh_token", "expires_in"} <= set(token)

    jwks = await fetch_jwks(live.url)
    claims = jose_jwt.decode(
        token["id_token"],
        jwks,
        algorithms=["RS256"],
        audience=tax.client.client_id,
        issuer=live.settings.issuer,
        access_token=token["access_token"],  # checks at_hash
    )
    assert claims["sub"] == world["account"].id
    assert claims["azp"] == tax.client.client_id
    assert claims["nonce"] == "nonce-1"
    assert claims["acr"] == "L1" and claims["amr"] == ["pwd"]
    assert claims["name"] == "王小明" and claims["email"] == "wang@example.gov.cn"
    # The verified phone, not the number the administrator typed in (13800138000).
    assert claims["phone_number"] == "13912345678" and claims["phone_number_verified"] is True
    assert isinstance(claims["auth_time"], int) and claims["sid"]
    assert jose_jwt.get_unverified_header(token["id_token"])["alg"] == "RS256"

    access = jose_jwt.decode(token["access_token"], jwks, audience=tax.client.client_id)
    assert access["sub"] == world["account"].id
    assert jose_jwt.get_unverified_header(token["access_token"])["typ"] == "at+jwt"

    async with httpx.AsyncClient(base_url=live.url) as http:
        info = await http.get(
            "/oauth/userinfo", headers={"Authorization": f"Bearer {token['access_token']}"}
        )
        posted = await http.post("/oauth/userinfo", data={"access_token": token["access_token"]})
    assert info.status_code == 200
    assert info.headers["content-type"] == "application/json"
    assert info.headers["cache-control"] == "no-store"
    assert info.headers["access-control-allow-origin"] == "*"
    assert int(info.headers["content-length"]) == len(info.content)
    assert info.json() == posted.json()
    assert info.json()["sub"] == claims["sub"]
    assert info.json()["preferred_username"] == "wang"
    assert info.json()["phone_number"] == "13912345678"
    assert info.json()["phone_number_verified"] is True


async def test_a_phone_typed_by_an_administrator_is_no_phone_claim(world) -> None:
    live, tax, browser = world["live"], world["tax"], world["browser"]
    url = authorize_url(live.url, tax.client.client_id, scope="openid profile phone")
    arrival = await browser.go(url, username="wang", password=PASSWORD)
    answer = await exchange(live, tax, code_of(arrival))
    assert answer.status_code == 200, answer.text
    claims = jose_jwt.get_unverified_claims(answer.json()["id_token"])
    assert claims["preferred_username"] == "wang"
    assert "phone_number" not in claims and "phone_number_verified" not in claims
    async with httpx.AsyncClient(base_url=live.url) as http:
        info = await http.get(
            "/oauth/userinfo",
            headers={"Authorization": f"Bearer {answer.json()['access_token']}"},
        )
    assert info.status_code == 200
    assert "phone_number" not in info.json()


async def test_a_second_app_in_the_same_browser_signs_in_silently(world) -> None:
    live, browser = world["live"], world["browser"]
    first = await browser.go(
        authorize_url(live.url, world["tax"].client.client_id), username="wang", password=PASSWORD
    )
    assert "code" in httpx.URL(first.headers["location"]).params
    assert browser.pages == ["/login"]
    other = await second_app(world)
    second = await browser.go(
        authorize_url(
            live.url, other.client.client_id, redirect_uri="https://office.example.gov.cn/cb"
        )
    )
    assert second.status_code == 303
    assert "code" in httpx.URL(second.headers["location"]).params
    assert browser.pages == ["/login"], "no second password prompt"
    first_id = (await exchange(live, world["tax"], code_of(first))).json()["id_token"]
    second_id = (
        await exchange(
            live,
            other,
            code_of(second),
            redirect_uri="https://office.example.gov.cn/cb",
        )
    ).json()["id_token"]
    one, two = jose_jwt.get_unverified_claims(first_id), jose_jwt.get_unverified_claims(second_id)
    assert one["sid"] == two["sid"] and one["auth_time"] == two["auth_time"]


async def test_bad_client_or_redirect_uri_gets_a_page_never_a_redirect(world) -> None:
    live, tax, browser = world["live"], world["tax"], world["browser"]
    cases = [
        authorize_url(live.url, "no-such-client"),
        authorize_url(live.url, tax.client.client_id, redirect_uri="https://evil.example/cb"),
        authorize_url(live.url, tax.client.client_id, redirect_uri=CALLBACK + "/"),
        authorize_url(live.url, tax.client.client_id, redirect_uri=CALLBACK + '?x="'),
        f"{live.url}/oauth/authorize?client_id=a&client_id=b",
        f"{live.url}/oauth/authorize",
    ]
    for url in cases:
        response = await browser.go(url)
        assert response.status_code == 400, url
        assert "location" not in response.headers
        assert response.headers["content-type"].startswith("text/html")
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


async def test_other_errors_go_back_to_the_client_with_state_and_iss(world) -> None:
    live, tax, browser = world["live"], world["tax"], world["browser"]
    for extra, error in [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"prompt": "none"}, "login_required"),
        ({"prompt": "none login"}, "invalid_request"),
        ({"response_mode": "fragment"}, "invalid_request"),
        ({"max_age": "soon"}, "invalid_request"),
        ({"request": "eyJ..."}, "request_not_supported"),
        ({"claims": "{not json"}, "invalid_request"),
    ]:
        response = await browser.go(authorize_url(live.url, tax.client.client_id, **extra))
        assert response.status_code in (302, 303), (extra, response.text[:200])
        params = httpx.URL(response.headers["location"]).params
        assert params["error"] == error, extra
        assert params["state"] == "s-123"
        assert params["iss"] == live.settings.issuer


async def test_prompt_and_max_age(world) -> None:
    live, tax, browser = world["live"], world["tax"], world["browser"]
    await browser.go(
        authorize_url(live.url, tax.client.client_id), username="wang", password=PASSWORD
    )
    silent = await browser.go(authorize_url(live.url, tax.client.client_id, prompt="none"))
    assert "code" in httpx.URL(silent.headers["location"]).params
    forced = await browser.go(authorize_url(live.url, tax.client.client_id, prompt="login"))
    assert forced.status_code == 200 and forced.request.url.path == "/login"
    too_old = await browser.go(authorize_url(live.url, tax.client.client_id, max_age="0"))
    assert too_old.request.url.path == "/login"
    again = await browser.go(
        authorize_url(live.url, tax.client.client_id, prompt="login"),
        username="wang",
        password=PASSWORD,
    )
    assert "code" in httpx.URL(again.headers["location"]).params


async def test_form_post_response_mode(world) -> None:
    live, tax, browser = world["live"], world["tax"], world["browser"]
    response = await browser.go(
        authorize_url(live.url, tax.client.client_id, response_mode="form_post"),
        username="wang",
        password=PASSWORD,
    )
    assert response.status_code == 200
    assert f'action="{CALLBACK}"' in response.text
    assert hidden(response.text, "state") == "s-123"
    assert hidden(response.text, "iss") == live.settings.issuer
    assert len(hidden(response.text, "code")) >= 22
    csp = response.headers["content-security-policy"]
    assert "form-action https://app.example.gov.cn" in csp and "script-src 'nonce-" in csp


async def test_odd_input_never_breaks_the_server(world) -> None:
    """Inputs that once reached code paths outside the OAuth error handling."""
    live, tax, browser = world["live"], world["tax"], world["browser"]
    await browser.go(
        authorize_url(live.url, tax.client.client_id), username="wang", password=PASSWORD
    )
    crit = "eyJhbGciOiJSUzI1NiIsImtpZCI6IngiLCJjcml0IjpbMV19.e30.QUJD"  # {"crit":[1]}
    nested = "[" * 1500 + "]" * 1500
    odd_redirects = [
        "http://例@127.0.0.1:9999/cb",
        "http://x@127.0.0.1:9999/cb",
        "https://app.example.gov.cn/回调",
    ]
    responses = [
        await browser.http.get("/oauth/userinfo", headers={"Authorization": f"Bearer {crit}"}),
        await browser.go(authorize_url(live.url, tax.client.client_id, id_token_hint=crit)),
        await browser.http.get("/oauth/logout", params={"id_token_hint": crit}),
        await browser.go(authorize_url(live.url, tax.client.client_id, max_age="²")),
        await browser.go(authorize_url(live.url, tax.client.client_id, claims=nested)),
        await browser.go(authorize_url(live.url, "cli\x00ent")),
        *[
            await browser.go(authorize_url(live.url, tax.client.client_id, redirect_uri=uri))
            for uri in odd_redirects
        ],
    ]
    async with httpx.AsyncClient(base_url=live.url) as http:
        responses.append(
            await http.post(
                "/oauth/introspect",
                data={"token": crit},
                auth=(tax.client.client_id, tax.client_secret),
            )
        )
        responses.append(
            await http.post(
                "/oauth/token", data={"grant_type": "client_credentials"}, auth=("cli\x00ent", "x")
            )
        )
    for response in responses:
        assert response.status_code < 500, (response.request.url, response.text[:200])
    for response in responses[-5:-2]:  # odd redirect URIs: a page, never a redirect
        assert response.status_code == 400 and "location" not in response.headers


async def test_review_corner_cases(world) -> None:
    live, tax, browser = world["live"], world["tax"], world["browser"]
    arrival = await browser.go(
        authorize_url(live.url, tax.client.client_id), username="wang", password=PASSWORD
    )
    tokens = (await exchange(live, tax, code_of(arrival))).json()
    # An id_token_hint that is not our ID token is an error for the client, not a sign-in loop.
    forged = await browser.go(authorize_url(live.url, tax.client.client_id, id_token_hint="a.b.c"))
    assert httpx.URL(forged.headers["location"]).params["error"] == "invalid_request"
    # form_post cannot post to a private-use scheme.
    native = await second_app(world, public=True, redirect_uris=["cn.gov.office:/cb"])
    _, challenge = pkce_pair()
    posted = await browser.go(
        authorize_url(
            live.url,
            native.client.client_id,
            redirect_uri="cn.gov.office:/cb",
            response_mode="form_post",
            code_challenge=challenge,
            code_challenge_method="S256",
        )
    )
    assert posted.status_code in (302, 303)
    assert httpx.URL(posted.headers["location"]).params["error"] == "invalid_request"
    async with httpx.AsyncClient(base_url=live.url) as http:
        # Another client learns nothing about this client's access token.
        other = await second_app(world)
        peek = await http.post(
            "/oauth/introspect",
            data={"token": tokens["access_token"]},
            auth=(other.client.client_id, other.client_secret),
        )
        assert peek.json() == {"active": False}
        # A public client revokes its own tokens with just its client_id (RFC 7009 §2.1).
        revoke = await http.post(
            "/oauth/revoke", data={"token": "whatever", "client_id": native.client.client_id}
        )
        assert revoke.status_code == 200
