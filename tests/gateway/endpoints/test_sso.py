"""Single sign-on over real HTTP on both backends: Authlib's OAuth client is the relying party,
a scripted browser signs in, tokens are checked by joserfc and python-jose."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlencode

import httpx
import pytest
from authlib.integrations.httpx_client import AsyncOAuth2Client
from jose import jwt as jose_jwt

from tests.conftest import running_gateway
from tests.gateway.browser import Browser, hidden, pkce_pair
from tests.gateway.helpers import fetch_jwks, second_instance

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
        tax = await admin.clients.register(name="税务服务", redirect_uris=[CALLBACK])
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
    async with httpx.AsyncClient(base_url=live.url) as http:
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


async def test_full_flow_with_authlib_as_the_relying_party(world) -> None:
    live, tax, browser = world["live"], world["tax"], world["browser"]
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
    assert claims["phone_number"] == "13800138000"
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


async def second_app(world, **options):
    options.setdefault("redirect_uris", ["https://office.example.gov.cn/cb"])
    async with second_instance(world["live"].settings) as admin:
        return await admin.clients.register(name="移动办公", **options)


async def test_reused_code_is_refused_and_revokes_its_tokens(world) -> None:
    live, tax, browser = world["live"], world["tax"], world["browser"]
    arrival = await browser.go(
        authorize_url(live.url, tax.client.client_id), username="wang", password=PASSWORD
    )
    code = code_of(arrival)
    first = await exchange(live, tax, code)
    assert first.status_code == 200
    tokens = first.json()
    again = await exchange(live, tax, code)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    async with httpx.AsyncClient(base_url=live.url) as http:
        auth = (tax.client.client_id, tax.client_secret)
        introspected = await http.post(
            "/oauth/introspect", data={"token": tokens["access_token"]}, auth=auth
        )
        userinfo = await http.get(
            "/oauth/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
        refreshed = await http.post(
            "/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
            auth=auth,
        )
    assert introspected.json() == {"active": False}
    assert userinfo.status_code == 401
    assert 'error="invalid_token"' in userinfo.headers["www-authenticate"]
    assert refreshed.json()["error"] == "invalid_grant"


async def test_refresh_rotates_and_reuse_revokes_the_family(world) -> None:
    live, tax, browser = world["live"], world["tax"], world["browser"]
    arrival = await browser.go(
        authorize_url(live.url, tax.client.client_id), username="wang", password=PASSWORD
    )
    tokens = (await exchange(live, tax, code_of(arrival))).json()
    auth = (tax.client.client_id, tax.client_secret)
    async with httpx.AsyncClient(base_url=live.url) as http:

        async def refresh(token: str, **extra: str) -> httpx.Response:
            return await http.post(
                "/oauth/token",
                data={"grant_type": "refresh_token", "refresh_token": token, **extra},
                auth=auth,
            )

        second = await refresh(tokens["refresh_token"], scope="openid")
        assert second.status_code == 200, second.text
        rotated = second.json()
        assert rotated["refresh_token"] != tokens["refresh_token"]
        assert rotated["scope"] == "openid"
        third = await refresh(rotated["refresh_token"])  # the family keeps its first scope
        assert third.status_code == 200 and third.json()["scope"] == "openid profile email"
        newest = third.json()

        replayed = await refresh(tokens["refresh_token"])  # a stolen, already-used token
        assert replayed.status_code == 400 and replayed.json()["error"] == "invalid_grant"
        after = await refresh(newest["refresh_token"])
        assert after.json()["error"] == "invalid_grant", "the whole family is revoked"
        for access in (rotated["access_token"], newest["access_token"]):
            state = await http.post("/oauth/introspect", data={"token": access}, auth=auth)
            assert state.json() == {"active": False}
        wider = await refresh(newest["refresh_token"], scope="openid admin")
        assert wider.status_code == 400


async def test_refresh_tokens_are_bound_to_their_client(world) -> None:
    live, tax, browser = world["live"], world["tax"], world["browser"]
    arrival = await browser.go(
        authorize_url(live.url, tax.client.client_id), username="wang", password=PASSWORD
    )
    tokens = (await exchange(live, tax, code_of(arrival))).json()
    other = await second_app(world)
    async with httpx.AsyncClient(base_url=live.url) as http:
        stolen = await http.post(
            "/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
            auth=(other.client.client_id, other.client_secret),
        )
        peek = await http.post(
            "/oauth/introspect",
            data={"token": tokens["refresh_token"]},
            auth=(other.client.client_id, other.client_secret),
        )
        own = await http.post(
            "/oauth/introspect",
            data={"token": tokens["refresh_token"]},
            auth=(tax.client.client_id, tax.client_secret),
        )
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"
    assert peek.json() == {"active": False}
    assert own.json()["active"] is True and own.json()["client_id"] == tax.client.client_id


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


async def test_userinfo_errors(world) -> None:
    live = world["live"]
    async with second_instance(live.settings) as admin:
        machine = await admin.clients.register(
            name="M", grant_types=["client_credentials"], scopes=["data.read"]
        )
    async with httpx.AsyncClient(base_url=live.url) as http:
        machine_token = (
            await http.post(
                "/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=(machine.client.client_id, machine.client_secret),
            )
        ).json()["access_token"]
        none = await http.get("/oauth/userinfo")
        garbage = await http.get("/oauth/userinfo", headers={"Authorization": "Bearer abc.def.ghi"})
        no_openid = await http.get(
            "/oauth/userinfo", headers={"Authorization": f"Bearer {machine_token}"}
        )
        both = await http.post(
            "/oauth/userinfo",
            data={"access_token": machine_token},
            headers={"Authorization": f"Bearer {machine_token}"},
        )
    assert none.status_code == 401 and none.headers["www-authenticate"].startswith("Bearer")
    assert garbage.status_code == 401 and "invalid_token" in garbage.headers["www-authenticate"]
    assert no_openid.status_code == 403
    assert "insufficient_scope" in no_openid.headers["www-authenticate"]
    assert both.status_code == 400


async def test_introspection_and_revocation(world) -> None:
    live, tax, browser = world["live"], world["tax"], world["browser"]
    arrival = await browser.go(
        authorize_url(
            live.url, tax.client.client_id, scope="openid offline_access", prompt="consent"
        ),
        username="wang",
        password=PASSWORD,
    )
    tokens = (await exchange(live, tax, code_of(arrival))).json()
    auth = (tax.client.client_id, tax.client_secret)
    async with httpx.AsyncClient(base_url=live.url) as http:
        anonymous = await http.post("/oauth/introspect", data={"token": tokens["access_token"]})
        assert anonymous.status_code == 401
        active = await http.post(
            "/oauth/introspect", data={"token": tokens["access_token"]}, auth=auth
        )
        body = active.json()
        assert body["active"] is True and body["client_id"] == tax.client.client_id
        assert body["sub"] == world["account"].id and body["scope"] == "openid offline_access"
        assert active.headers["cache-control"] == "no-store"
        unknown = await http.post("/oauth/introspect", data={"token": "nope"}, auth=auth)
        assert unknown.json() == {"active": False}
        missing = await http.post("/oauth/introspect", data={}, auth=auth)
        assert missing.json()["error"] == "invalid_request"

        revoked = await http.post(
            "/oauth/revoke", data={"token": tokens["access_token"]}, auth=auth
        )
        assert revoked.status_code == 200
        after = await http.post(
            "/oauth/introspect", data={"token": tokens["access_token"]}, auth=auth
        )
        assert after.json() == {"active": False}
        info = await http.get(
            "/oauth/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
        assert info.status_code == 401

        await http.post(
            "/oauth/revoke",
            data={"token": tokens["refresh_token"], "token_type_hint": "refresh_token"},
            auth=auth,
        )
        refreshed = await http.post(
            "/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
            auth=auth,
        )
        assert refreshed.json()["error"] == "invalid_grant"
        nothing = await http.post("/oauth/revoke", data={"token": "not-a-token"}, auth=auth)
        assert nothing.status_code == 200


async def test_sign_in_errors_are_generic_and_lock_out(world) -> None:
    live, tax = world["live"], world["tax"]
    browser = world["browser"]
    url = authorize_url(live.url, tax.client.client_id)
    page = await browser.go(url)

    async def attempt(username: str, password: str) -> httpx.Response:
        form = {
            "tx": hidden(page.text, "tx"),
            "csrf_token": hidden(page.text, "csrf_token"),
            "username": username,
            "password": password,
        }
        return await browser.http.post("/login", data=form)

    wrong = await attempt("wang", "not it")
    unknown = await attempt("nobody-here", "not it")
    assert wrong.status_code == unknown.status_code == 400
    message = "用户名或密码不正确"
    assert message in wrong.text and message in unknown.text
    assert "set-cookie" not in wrong.headers or "yht_session" not in wrong.headers["set-cookie"]
    for _ in range(4):  # five wrong passwords for "wang" in all
        await attempt("wang", "still not")
    locked = await attempt("WANG", PASSWORD)
    assert locked.status_code == 429
    assert 0 < int(locked.headers["retry-after"]) <= 900
    assert "尝试次数过多" in locked.text


async def test_sign_in_needs_the_csrf_token_of_this_browser(world) -> None:
    live, tax, browser = world["live"], world["tax"], world["browser"]
    page = await browser.go(authorize_url(live.url, tax.client.client_id))
    form = {"tx": hidden(page.text, "tx"), "username": "wang", "password": PASSWORD}
    forged = await browser.http.post("/login", data={**form, "csrf_token": "forged"})
    assert forged.status_code == 400 and "yht_session" not in forged.headers.get("set-cookie", "")
    stranger = Browser(live.url)
    try:
        other = await stranger.http.post(
            "/login", data={**form, "csrf_token": hidden(page.text, "csrf_token")}
        )
        assert other.status_code == 400
    finally:
        await stranger.close()
    ok = await browser.http.post(
        "/login", data={**form, "csrf_token": hidden(page.text, "csrf_token")}
    )
    assert ok.status_code == 303
    cookie = ok.headers["set-cookie"]
    assert (
        "yht_session=" in cookie
        and "HttpOnly" in cookie
        and "SameSite=lax" in cookie.replace("Lax", "lax")
    )
    assert "Path=/" in cookie


async def test_login_page_languages(world) -> None:
    live, tax, browser = world["live"], world["tax"], world["browser"]
    chinese = await browser.go(authorize_url(live.url, tax.client.client_id))
    assert '<html lang="zh-CN">' in chinese.text and "登录" in chinese.text
    assert 'autocomplete="username"' in chinese.text
    assert 'autocomplete="current-password"' in chinese.text
    assert "税务服务" in chinese.text
    english = await browser.go(authorize_url(live.url, tax.client.client_id, ui_locales="en-US"))
    assert '<html lang="en">' in english.text and "Sign in" in english.text
    browser.http.headers["Accept-Language"] = "en-GB,en;q=0.9,zh;q=0.5"
    accepted = await browser.go(authorize_url(live.url, tax.client.client_id))
    assert "Sign in" in accepted.text
    headers = accepted.headers
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"


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
    assert "医保服务" in account_page.text and "offline_access" in account_page.text
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


async def test_session_bound_refresh_tokens_end_with_the_session(settings_for) -> None:
    with running_gateway(settings_for, session_idle_seconds=2) as live:
        async with second_instance(live.settings) as admin:
            await admin.accounts.create_local(username="wang", password=PASSWORD)
            tax = await admin.clients.register(name="税务服务", redirect_uris=[CALLBACK])
        browser = Browser(live.url)
        try:
            arrival = await browser.go(
                authorize_url(live.url, tax.client.client_id, scope="openid"),
                username="wang",
                password=PASSWORD,
            )
            tokens = (await exchange(live, tax, code_of(arrival))).json()
            await asyncio.sleep(2.5)  # the session idles out
            async with httpx.AsyncClient(base_url=live.url) as http:
                refreshed = await http.post(
                    "/oauth/token",
                    data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                    auth=(tax.client.client_id, tax.client_secret),
                )
            assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"
        finally:
            await browser.close()


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


async def test_an_access_token_is_no_id_token_hint(world) -> None:
    live, tax, browser = world["live"], world["tax"], world["browser"]
    arrival = await browser.go(
        authorize_url(live.url, tax.client.client_id), username="wang", password=PASSWORD
    )
    tokens = (await exchange(live, tax, code_of(arrival))).json()
    response = await browser.http.get(
        "/oauth/logout", params={"id_token_hint": tokens["access_token"]}
    )
    assert response.status_code == 200 and 'value="logout"' in response.text, "asks, not silent"
    still = await browser.go(authorize_url(live.url, tax.client.client_id, prompt="none"))
    assert "code" in httpx.URL(still.headers["location"]).params


async def test_parallel_guesses_cannot_outrun_the_lockout(world) -> None:
    live, tax, browser = world["live"], world["tax"], world["browser"]
    page = await browser.go(authorize_url(live.url, tax.client.client_id))
    form = {
        "tx": hidden(page.text, "tx"),
        "csrf_token": hidden(page.text, "csrf_token"),
        "username": "wang",
    }
    answers = await asyncio.gather(
        *(browser.http.post("/login", data={**form, "password": f"guess {i}"}) for i in range(20))
    )
    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(400) == 5, "five passwords checked, no more"
    assert statuses.count(429) == 15


async def test_a_post_whose_transaction_ended_is_no_attempt(world) -> None:
    """The attempt is counted while the transaction is read; a transaction that is gone takes
    the count back, since no password was tried."""
    live, tax, browser = world["live"], world["tax"], world["browser"]
    page = await browser.go(authorize_url(live.url, tax.client.client_id))
    gone = "a-transaction-that-never-was"
    async with second_instance(live.settings) as other:
        token = other.csrf.token(browser.http.cookies["yht_browser"], f"login:{gone}")
    for i in range(8):  # beyond the five wrong passwords that lock an account out
        answer = await browser.http.post(
            "/login",
            data={"tx": gone, "csrf_token": token, "username": "wang", "password": f"guess {i}"},
        )
        assert answer.status_code == 400 and "yht_session" not in answer.headers.get(
            "set-cookie", ""
        )
    signed_in = await browser.http.post(
        "/login",
        data={
            "tx": hidden(page.text, "tx"),
            "csrf_token": hidden(page.text, "csrf_token"),
            "username": "wang",
            "password": PASSWORD,
        },
    )
    assert signed_in.status_code == 303


async def test_simultaneous_reuse_leaves_no_live_tokens(world) -> None:
    """Two uses at the same moment are reuse too: whatever either produced is revoked."""
    live, tax, browser = world["live"], world["tax"], world["browser"]
    auth = (tax.client.client_id, tax.client_secret)
    async with httpx.AsyncClient(base_url=live.url) as http:

        async def live_tokens(answers: list[httpx.Response]) -> list[str]:
            alive = []
            for answer in answers:
                if answer.status_code != 200:
                    continue
                for token in (answer.json()["access_token"], answer.json().get("refresh_token")):
                    state = await http.post("/oauth/introspect", data={"token": token}, auth=auth)
                    if state.json()["active"]:
                        alive.append(token)
            return alive

        for _ in range(3):
            arrival = await browser.go(
                authorize_url(live.url, tax.client.client_id), username="wang", password=PASSWORD
            )
            code = code_of(arrival)
            answers = await asyncio.gather(*(exchange(live, tax, code) for _ in range(4)))
            assert sum(a.status_code == 200 for a in answers) <= 1
            tokens = next((a.json() for a in answers if a.status_code == 200), None)
            if tokens is None:
                continue
            refreshes = await asyncio.gather(
                *(
                    http.post(
                        "/oauth/token",
                        data={
                            "grant_type": "refresh_token",
                            "refresh_token": tokens["refresh_token"],
                        },
                        auth=auth,
                    )
                    for _ in range(4)
                )
            )
            assert sum(r.status_code == 200 for r in refreshes) <= 1
            assert await live_tokens(refreshes) == []
            assert await live_tokens([a for a in answers if a.status_code == 200]) == []


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


async def test_a_code_survives_a_request_without_the_clients_secret(world) -> None:
    live, tax, browser = world["live"], world["tax"], world["browser"]
    arrival = await browser.go(
        authorize_url(live.url, tax.client.client_id), username="wang", password=PASSWORD
    )
    code = code_of(arrival)
    async with httpx.AsyncClient(base_url=live.url) as http:
        thief = await http.post(
            "/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": CALLBACK,
                "client_id": tax.client.client_id,
            },
        )
    assert thief.status_code == 401 and thief.json()["error"] == "invalid_client"
    owner = await exchange(live, tax, code)
    assert owner.status_code == 200, "the code was not spent by the failed attempt"


async def test_non_ascii_csrf_and_cookies_are_refused_cleanly(world) -> None:
    live, tax, browser = world["live"], world["tax"], world["browser"]
    page = await browser.go(authorize_url(live.url, tax.client.client_id))
    form = {"tx": hidden(page.text, "tx"), "username": "wang", "password": PASSWORD}
    bad_token = await browser.http.post("/login", data={**form, "csrf_token": "令牌"})
    assert bad_token.status_code == 400
    async with httpx.AsyncClient(base_url=live.url) as http:
        bad_cookie = await http.get(
            f"/login?tx={hidden(page.text, 'tx')}",
            headers={"Cookie": "yht_browser=浏览器; yht_session=会话.x".encode()},
        )
    assert bad_cookie.status_code == 400


async def test_another_clients_request_cannot_spend_a_code(world) -> None:
    live, tax, browser = world["live"], world["tax"], world["browser"]
    native = await second_app(world, public=True)
    arrival = await browser.go(
        authorize_url(live.url, tax.client.client_id), username="wang", password=PASSWORD
    )
    code = code_of(arrival)
    async with httpx.AsyncClient(base_url=live.url) as http:
        burn = await http.post(
            "/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": CALLBACK,
                "client_id": native.client.client_id,
            },
        )
    assert burn.json()["error"] == "invalid_grant"
    assert (await exchange(live, tax, code)).status_code == 200


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


async def test_app_refreshes_do_not_keep_the_browser_session_alive(settings_for) -> None:
    with running_gateway(settings_for, session_idle_seconds=2) as live:
        async with second_instance(live.settings) as admin:
            await admin.accounts.create_local(username="wang", password=PASSWORD)
            tax = await admin.clients.register(name="税务服务", redirect_uris=[CALLBACK])
        browser = Browser(live.url)
        try:
            arrival = await browser.go(
                authorize_url(live.url, tax.client.client_id), username="wang", password=PASSWORD
            )
            tokens = (await exchange(live, tax, code_of(arrival))).json()
            await asyncio.sleep(1.2)
            async with httpx.AsyncClient(base_url=live.url) as http:
                refreshed = await http.post(
                    "/oauth/token",
                    data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                    auth=(tax.client.client_id, tax.client_secret),
                )
            assert refreshed.status_code == 200
            await asyncio.sleep(1.2)  # 2.4 s since the person was last seen
            silent = await browser.go(authorize_url(live.url, tax.client.client_id, prompt="none"))
            assert httpx.URL(silent.headers["location"]).params["error"] == "login_required"
        finally:
            await browser.close()


async def test_a_new_person_signing_in_logs_the_old_one_out_of_front_channel_apps(world) -> None:
    live, browser = world["live"], world["browser"]
    kiosk = await second_app(world, frontchannel_logout_uri="https://office.example.gov.cn/fcl")
    async with second_instance(live.settings) as admin:
        await admin.accounts.create_local(username="dave", password=PASSWORD)
    office = "https://office.example.gov.cn/cb"
    await browser.go(
        authorize_url(live.url, kiosk.client.client_id, redirect_uri=office),
        username="wang",
        password=PASSWORD,
    )
    switched = await browser.go(
        authorize_url(live.url, kiosk.client.client_id, redirect_uri=office, prompt="login"),
        username="dave",
        password=PASSWORD,
    )
    assert switched.status_code == 200
    assert "https://office.example.gov.cn/fcl?iss=" in switched.text
    assert "/oauth/authorize/resume?tx=" in switched.text  # and then on to the app
