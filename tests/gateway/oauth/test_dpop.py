"""DPoP (RFC 9449) on both backends, over real HTTP: bound tokens at the token endpoint, the
DPoP scheme at UserInfo, introspection, refresh tokens of public clients bound to the key,
clients that require DPoP, the code bound by ``dpop_jkt``, server nonces, and every refusal a
spec-exact error."""

from __future__ import annotations

import time
from urllib.parse import urlencode

import httpx
import pytest
from jose import jwt as jose_jwt

from tests.conftest import running_gateway
from tests.gateway.browser import Browser, pkce_pair
from tests.gateway.helpers import second_instance
from tests.gateway.oauth.dpop_client import DPoPKey

PASSWORD = "correct horse battery"
NATIVE = "cn.gov.city.app:/callback"


async def _world(live):
    async with second_instance(live.settings) as admin:
        await admin.accounts.create_local(username="li", password=PASSWORD, name="李四")
        app = await admin.clients.register(
            name="一号通", redirect_uris=[NATIVE], public=True, scopes=["openid"]
        )
        strict = await admin.clients.register(
            name="移动办公",
            redirect_uris=[NATIVE],
            public=True,
            dpop_bound_access_tokens=True,
        )
        api = await admin.clients.register(
            name="部门接口", grant_types=["client_credentials"], resource_server=True
        )
    browser = Browser(live.url)
    return {"live": live, "app": app, "strict": strict, "api": api, "browser": browser}


@pytest.fixture
async def world(live_server):
    world = await _world(live_server)
    try:
        yield world
    finally:
        await world["browser"].close()


async def code_for(world, client, **extra: str) -> tuple[str, str]:
    verifier, challenge = pkce_pair()
    params = {
        "response_type": "code",
        "client_id": client.client.client_id,
        "redirect_uri": NATIVE,
        "scope": "openid profile offline_access",
        "prompt": "consent",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **extra,
    }
    live = world["live"]
    arrival = await world["browser"].go(
        f"{live.url}/oauth/authorize?{urlencode(params)}", username="li", password=PASSWORD
    )
    assert arrival.status_code == 303, arrival.text
    location = httpx.URL(arrival.headers["location"])
    assert "code" in location.params, str(location)
    return location.params["code"], verifier


async def token_request(live, form: dict[str, str], proof: str | None) -> httpx.Response:
    headers = {"DPoP": proof} if proof else {}
    async with httpx.AsyncClient(base_url=live.url) as http:
        return await http.post("/oauth/token", data=form, headers=headers)


async def dpop_tokens(world, key: DPoPKey, client=None, **extra: str) -> dict:
    live, client = world["live"], client or world["app"]
    code, verifier = await code_for(world, client, **extra)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": NATIVE,
        "code_verifier": verifier,
        "client_id": client.client.client_id,
    }
    answer = await token_request(live, form, key.proof("POST", f"{live.url}/oauth/token"))
    assert answer.status_code == 200, answer.text
    return answer.json()


async def userinfo(live, headers: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=live.url) as http:
        return await http.get("/oauth/userinfo", headers=headers)


async def test_a_dpop_bound_token_works_only_with_its_key(world) -> None:
    live, key = world["live"], DPoPKey()
    tokens = await dpop_tokens(world, key)
    assert tokens["token_type"] == "DPoP"
    access = tokens["access_token"]
    assert jose_jwt.get_unverified_claims(access)["cnf"] == {"jkt": key.thumbprint}
    url = f"{live.url}/oauth/userinfo"
    proof = key.proof("GET", url, access_token=access)
    ok = await userinfo(live, {"Authorization": f"DPoP {access}", "DPoP": proof})
    assert ok.status_code == 200, ok.text
    assert ok.json()["name"] == "李四"
    # The same proof again is a replay (RFC 9449 §11.1).
    replay = await userinfo(live, {"Authorization": f"DPoP {access}", "DPoP": proof})
    assert replay.status_code == 401
    assert replay.headers["www-authenticate"].startswith('DPoP algs="')
    assert 'error="invalid_dpop_proof"' in replay.headers["www-authenticate"]
    # As a bearer token it is refused (§7.2); without a proof, or with another key's, too.
    bearer = await userinfo(live, {"Authorization": f"Bearer {access}"})
    assert bearer.status_code == 401 and bearer.json()["error"] == "invalid_token"
    bare = await userinfo(live, {"Authorization": f"DPoP {access}"})
    assert bare.status_code == 401 and bare.json()["error"] == "invalid_dpop_proof"
    thief = DPoPKey().proof("GET", url, access_token=access)
    stolen = await userinfo(live, {"Authorization": f"DPoP {access}", "DPoP": thief})
    assert stolen.status_code == 401 and stolen.json()["error"] == "invalid_token"
    assert stolen.headers["www-authenticate"].startswith("DPoP ")
    for wrong in (
        key.proof("GET", url, access_token=access + "x"),  # ath of another token
        key.proof("POST", url, access_token=access),
        key.proof("GET", f"{live.url}/oauth/token", access_token=access),
        key.proof("GET", url),  # no ath
    ):
        answer = await userinfo(live, {"Authorization": f"DPoP {access}", "DPoP": wrong})
        assert answer.status_code == 401 and answer.json()["error"] == "invalid_dpop_proof"
    # The query is not part of htu (§4.3 check 9).
    fine = key.proof("GET", url + "?x=1", access_token=access)
    assert (await userinfo(live, {"Authorization": f"DPoP {access}", "DPoP": fine})).is_success


async def test_introspection_shows_the_key(world) -> None:
    live, key, api = world["live"], DPoPKey(), world["api"]
    tokens = await dpop_tokens(world, key)
    async with httpx.AsyncClient(base_url=live.url) as http:
        seen = await http.post(
            "/oauth/introspect",
            data={"token": tokens["access_token"]},
            auth=(api.client.client_id, api.client_secret),
        )
    body = seen.json()
    assert body["active"] is True and body["token_type"] == "DPoP"
    assert body["cnf"] == {"jkt": key.thumbprint}


async def test_a_public_clients_refresh_token_is_bound_to_the_key(world) -> None:
    live, key, app = world["live"], DPoPKey(), world["app"]
    tokens = await dpop_tokens(world, key)
    form = {
        "grant_type": "refresh_token",
        "refresh_token": tokens["refresh_token"],
        "client_id": app.client.client_id,
    }
    token_url = f"{live.url}/oauth/token"
    other = await token_request(live, form, DPoPKey().proof("POST", token_url))
    assert other.status_code == 400 and other.json()["error"] == "invalid_grant"
    none = await token_request(live, form, None)
    assert none.status_code == 400 and none.json()["error"] == "invalid_grant"
    renewed = await token_request(live, form, key.proof("POST", token_url))
    assert renewed.status_code == 200, renewed.text
    assert renewed.json()["token_type"] == "DPoP"
    claims = jose_jwt.get_unverified_claims(renewed.json()["access_token"])
    assert claims["cnf"]["jkt"] == key.thumbprint
    form["refresh_token"] = renewed.json()["refresh_token"]
    again = await token_request(live, form, DPoPKey().proof("POST", token_url))
    assert again.json()["error"] == "invalid_grant"  # the successor is bound too


async def test_a_client_that_requires_dpop_gets_no_bearer_token(world) -> None:
    live, strict = world["live"], world["strict"]
    code, verifier = await code_for(world, strict)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": NATIVE,
        "code_verifier": verifier,
        "client_id": strict.client.client_id,
    }
    refused = await token_request(live, form, None)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_dpop_proof"
    # The refusal came before the code was spent: with a proof it still works.
    granted = await token_request(live, form, DPoPKey().proof("POST", f"{live.url}/oauth/token"))
    assert granted.status_code == 200 and granted.json()["token_type"] == "DPoP"


async def test_a_code_bound_by_dpop_jkt_needs_that_key(world) -> None:
    live, key, app = world["live"], DPoPKey(), world["app"]
    bad = await world["browser"].go(
        f"{live.url}/oauth/authorize?"
        + urlencode(
            {
                "response_type": "code",
                "client_id": app.client.client_id,
                "redirect_uri": NATIVE,
                "scope": "openid",
                "code_challenge": pkce_pair()[1],
                "code_challenge_method": "S256",
                "dpop_jkt": "not a thumbprint",
            }
        )
    )
    assert httpx.URL(bad.headers["location"]).params["error"] == "invalid_request"
    code, verifier = await code_for(world, app, dpop_jkt=key.thumbprint)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": NATIVE,
        "code_verifier": verifier,
        "client_id": app.client.client_id,
    }
    other = await token_request(live, form, DPoPKey().proof("POST", f"{live.url}/oauth/token"))
    assert other.status_code == 400 and other.json()["error"] == "invalid_grant"
    assert (await dpop_tokens(world, key, dpop_jkt=key.thumbprint))["token_type"] == "DPoP"


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_malformed_proofs_are_invalid_dpop_proof_never_a_500(world) -> None:
    live, key, app = world["live"], DPoPKey(), world["app"]
    url = f"{live.url}/oauth/token"
    private_jwk = dict(key.jwk, d="AAAA")
    first, second = key.proof("POST", url).split("."), key.proof("POST", url).split(".")
    proofs = {
        "garbage": "not.a.jwt",
        "typ": key.proof("POST", url, header={"typ": "JWT"}),
        "private jwk": key.proof("POST", url, header={"jwk": private_jwk}),
        "another key": key.proof("POST", url, header={"jwk": DPoPKey().jwk}),
        "htm": key.proof("GET", url),
        "htu": key.proof("POST", f"{live.url}/oauth/userinfo"),
        "old": key.proof("POST", url, iat=int(time.time()) - 3600),
        "future": key.proof("POST", url, iat=int(time.time()) + 3600),
        "no jti": key.proof("POST", url, jti=""),
        "crit": key.proof("POST", url, header={"crit": ["x-unknown"], "x-unknown": 1}),
        "another payload": ".".join((first[0], second[1], first[2])),
        "hmac": jose_jwt.encode(
            {"jti": "abcdefgh12", "htm": "POST", "htu": url, "iat": int(time.time())},
            "secret",
            algorithm="HS256",
            headers={"typ": "dpop+jwt", "jwk": {"kty": "oct", "k": "c2VjcmV0"}},
        ),
    }
    form = {"grant_type": "refresh_token", "refresh_token": "x", "client_id": app.client.client_id}
    for name, proof in proofs.items():
        answer = await token_request(live, form, proof)
        assert answer.status_code == 400, (name, answer.text)
        assert answer.json()["error"] == "invalid_dpop_proof", name
    async with httpx.AsyncClient(base_url=live.url) as http:
        two = await http.post(
            "/oauth/token",
            data=form,
            headers=[("DPoP", key.proof("POST", url)), ("DPoP", key.proof("POST", url))],
        )
    assert two.json()["error"] == "invalid_dpop_proof"


@pytest.mark.parametrize("backend", ["embedded", "services"])
async def test_server_nonces_when_required(settings_for, backend: str) -> None:
    with running_gateway(settings_for, backend, dpop_nonce_required=True) as live:
        world = await _world(live)
        try:
            key, app = DPoPKey(), world["app"]
            code, verifier = await code_for(world, app)
            form = {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": NATIVE,
                "code_verifier": verifier,
                "client_id": app.client.client_id,
            }
            url = f"{live.url}/oauth/token"
            first = await token_request(live, form, key.proof("POST", url))
            assert first.status_code == 400 and first.json()["error"] == "use_dpop_nonce"
            nonce = first.headers["dpop-nonce"]
            wrong = await token_request(live, form, key.proof("POST", url, nonce=nonce + "x"))
            assert wrong.json()["error"] == "use_dpop_nonce"
            granted = await token_request(live, form, key.proof("POST", url, nonce=nonce))
            assert granted.status_code == 200, granted.text
            access = granted.json()["access_token"]
            info = f"{live.url}/oauth/userinfo"
            auth = {"Authorization": f"DPoP {access}"}
            asked = await userinfo(
                live, {**auth, "DPoP": key.proof("GET", info, access_token=access)}
            )
            assert asked.status_code == 401
            assert 'error="use_dpop_nonce"' in asked.headers["www-authenticate"]
            nonce = asked.headers["dpop-nonce"]
            proof = key.proof("GET", info, access_token=access, nonce=nonce)
            assert (await userinfo(live, {**auth, "DPoP": proof})).status_code == 200
        finally:
            await world["browser"].close()
