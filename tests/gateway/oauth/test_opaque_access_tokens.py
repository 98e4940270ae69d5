"""Opaque access tokens (a client's access_token_format = "opaque"), on both backends: what the
token endpoint hands out, and that userinfo, introspection, revocation, refresh rotation and
logout treat them as they treat JWT access tokens."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import urlencode

import httpx
import pytest
from jose import jwt as jose_jwt

from gateway.oauth.access_tokens import parse_opaque
from store import kv_keys
from tests.gateway.browser import Browser
from tests.gateway.helpers import fetch_jwks, second_instance, service_client

PASSWORD = "correct horse battery"
CALLBACK = "https://app.example.gov.cn/cb"


@pytest.fixture
async def world(live_server):
    async with second_instance(live_server.settings) as admin:
        account = await admin.accounts.create_local(
            username="zhao", password=PASSWORD, name="赵六", email="zhao@example.gov.cn"
        )
        opaque = await admin.clients.register(  # public: the tests read `sub` as the account
            name="社保服务",
            redirect_uris=[CALLBACK],
            access_token_format="opaque",
            subject_type="public",
        )
        code_only = await admin.clients.register(  # no refresh token: only its sid ends it
            name="办事指南",
            redirect_uris=[CALLBACK],
            grant_types=["authorization_code"],
            access_token_format="opaque",
        )
        other = await admin.clients.register(
            name="公积金服务", redirect_uris=["https://fund.example.gov.cn/cb"]
        )
    browser = Browser(live_server.url)
    http = httpx.AsyncClient(base_url=live_server.url)
    try:
        yield {"live": live_server, "account": account, "opaque": opaque, "other": other,
               "code_only": code_only, "browser": browser, "http": http}  # fmt: skip
    finally:
        await http.aclose()
        await browser.close()


def auth(registered) -> tuple[str, str]:
    return registered.client.client_id, registered.client_secret


async def authorized_code(world, client: str = "opaque", scope: str = "openid profile email"):
    params = {
        "response_type": "code",
        "client_id": world[client].client.client_id,
        "redirect_uri": CALLBACK,
        "scope": scope,
        "state": "s-1",
        "nonce": "n-1",
    }
    arrival = await world["browser"].go(
        f"{world['live'].url}/oauth/authorize?{urlencode(params)}",
        username="zhao",
        password=PASSWORD,
    )
    return httpx.URL(arrival.headers["location"]).params["code"]


async def exchange(world, code: str, client: str = "opaque") -> httpx.Response:
    return await world["http"].post(
        "/oauth/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK},
        auth=auth(world[client]),
    )


async def code_flow(world, scope: str = "openid profile email", client: str = "opaque") -> dict:
    response = await exchange(world, await authorized_code(world, client, scope), client)
    assert response.status_code == 200, response.text
    return response.json()


async def userinfo(world, token: str) -> httpx.Response:
    return await world["http"].get("/oauth/userinfo", headers={"Authorization": f"Bearer {token}"})


async def introspect(world, token: str, client=None) -> dict:
    response = await world["http"].post(
        "/oauth/introspect", data={"token": token}, auth=auth(client or world["opaque"])
    )
    assert response.status_code == 200, response.text
    return response.json()


async def refresh(world, token: str) -> httpx.Response:
    return await world["http"].post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": token},
        auth=auth(world["opaque"]),
    )


async def test_code_flow_hands_out_an_opaque_token_that_userinfo_and_introspection_resolve(
    world,
) -> None:
    tokens = await code_flow(world)
    access = tokens["access_token"]
    assert access.startswith("yat_") and access.count(".") == 1, "opaque, and names its session"
    id_claims = jose_jwt.decode(
        tokens["id_token"],
        await fetch_jwks(world["live"].url),
        audience=world["opaque"].client.client_id,
        access_token=access,  # at_hash covers the opaque token too
    )
    assert access.endswith("." + id_claims["sid"])

    info = await userinfo(world, access)
    assert info.status_code == 200, info.text
    assert info.json()["sub"] == world["account"].id
    assert info.json()["name"] == "赵六" and info.json()["email"] == "zhao@example.gov.cn"

    seen = await introspect(world, access)
    assert seen["active"] is True and seen["token_type"] == "Bearer"
    assert seen["client_id"] == world["opaque"].client.client_id
    assert seen["sub"] == world["account"].id and seen["sid"] == id_claims["sid"]
    assert seen["scope"] == "openid profile email" and seen["acr"] == "L1"
    assert seen["exp"] - seen["iat"] == world["live"].settings.access_token_ttl
    assert seen["iss"] == world["live"].settings.issuer
    # Only the token's own client learns about it (RFC 7662 §4).
    assert await introspect(world, access, world["other"]) == {"active": False}


async def test_a_resource_server_introspects_the_tokens_of_other_clients(world) -> None:
    """RFC 7662 §2.1: a protected resource registered as such may ask about any access token
    (opaque or JWT); other clients learn only about their own, and nobody about another
    client's refresh token."""
    settings = world["live"].settings
    api = await service_client(settings, name="社保接口", resource_server=True)
    opaque = await code_flow(world)
    async with second_instance(settings) as admin:
        jwt_app = await admin.clients.register(
            name="JWT 应用", grant_types=["client_credentials"], scopes=["data.read"]
        )
    jwt_token = (
        await world["http"].post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=auth(jwt_app)
        )
    ).json()["access_token"]
    assert jwt_token.count(".") == 2
    seen = await introspect(world, opaque["access_token"], api)
    assert seen["active"] is True and seen["client_id"] == world["opaque"].client.client_id
    assert seen["sub"] == world["account"].id
    assert (await introspect(world, jwt_token, api))["client_id"] == jwt_app.client.client_id
    assert await introspect(world, jwt_token, world["other"]) == {"active": False}
    assert await introspect(world, opaque["refresh_token"], api) == {"active": False}
    # Revoking stays the token's own client's business (RFC 7009 §2.1).
    await world["http"].post("/oauth/revoke", data={"token": jwt_token}, auth=auth(api))
    assert (await introspect(world, jwt_token, jwt_app))["active"] is True


async def test_the_store_keeps_sealed_claims_under_a_digest_never_the_token(world) -> None:
    tokens = await code_flow(world)
    access = tokens["access_token"]
    jti, sid = parse_opaque(access)
    assert jti == hashlib.sha256(access.encode()).hexdigest()[:32]
    assert (await introspect(world, access))["jti"] == jti
    if world["live"].settings.redis_url:
        async with second_instance(world["live"].settings) as services:
            stored = await services.expiring.get(kv_keys.opaque_access_token(jti))
    else:  # the embedded store lives in the server's process (its reads never await)
        stored = await world["live"].services.expiring.get(kv_keys.opaque_access_token(jti))
    assert stored is not None
    secret = access.removeprefix("yat_").partition(".")[0]
    assert secret.encode() not in stored and access.encode() not in stored
    # Sealed with a key only the token gives: no claim can be read from the store.
    for readable in (sid, world["account"].id, "zhao@example.gov.cn", "赵六"):
        assert readable is not None and readable.encode() not in stored


async def test_altered_or_unknown_opaque_tokens_are_refused(world) -> None:
    tokens = await code_flow(world)
    access = tokens["access_token"]
    secret, _, sid = access.removeprefix("yat_").partition(".")
    flipped = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    other_sid = base64.urlsafe_b64encode(b"x" * 32).decode().rstrip("=")
    for forged in (
        f"yat_{flipped}.{sid}",  # another secret
        f"yat_{secret}",  # the session dropped, to dodge its end
        f"yat_{secret}.{other_sid}",  # another session
        f"yat_{secret}.{sid}.x",  # a second dot
        access + "A",
        "yat_" + "A" * 43,
    ):
        info = await userinfo(world, forged)
        assert info.status_code == 401, forged
        assert 'error="invalid_token"' in info.headers["www-authenticate"]
        assert await introspect(world, forged) == {"active": False}
    assert (await userinfo(world, access)).status_code == 200


async def test_revoking_an_opaque_token_ends_it_at_once_for_its_client_only(world) -> None:
    tokens = await code_flow(world)
    access = tokens["access_token"]
    refused = await world["http"].post(
        "/oauth/revoke", data={"token": access}, auth=auth(world["other"])
    )
    assert refused.status_code == 200  # RFC 7009 §2.2: nothing to say to another client
    assert (await userinfo(world, access)).status_code == 200

    revoked = await world["http"].post(
        "/oauth/revoke",
        data={"token": access, "token_type_hint": "access_token"},
        auth=auth(world["opaque"]),
    )
    assert revoked.status_code == 200
    assert (await userinfo(world, access)).status_code == 401
    assert await introspect(world, access) == {"active": False}
    # The refresh token was not part of the revocation (RFC 7009 §2.1 leaves that open; the
    # access token alone was named).
    assert (await refresh(world, tokens["refresh_token"])).status_code == 200


async def test_refresh_rotates_into_new_opaque_tokens_and_reuse_ends_them(world) -> None:
    first = await code_flow(world)
    rotated = await refresh(world, first["refresh_token"])
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()
    assert second["access_token"].startswith("yat_")
    assert second["access_token"] != first["access_token"]
    assert (await userinfo(world, second["access_token"])).status_code == 200

    reused = await refresh(world, first["refresh_token"])
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    # RFC 9700 §4.14.2: the family is revoked, and the access tokens it produced with it.
    for token in (first["access_token"], second["access_token"]):
        assert (await userinfo(world, token)).status_code == 401
        assert await introspect(world, token) == {"active": False}


async def test_a_reused_code_ends_the_opaque_tokens_it_gave(world) -> None:
    code = await authorized_code(world)
    first = await exchange(world, code)
    assert first.status_code == 200
    tokens = first.json()
    assert (await userinfo(world, tokens["access_token"])).status_code == 200
    again = await exchange(world, code)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert (await userinfo(world, tokens["access_token"])).status_code == 401
    assert await introspect(world, tokens["access_token"]) == {"active": False}
    assert (await refresh(world, tokens["refresh_token"])).status_code == 400


async def test_logout_ends_the_opaque_tokens_of_the_session(world) -> None:
    with_refresh = await code_flow(world)
    without = await code_flow(world, client="code_only")
    assert "refresh_token" not in without
    for tokens in (with_refresh, without):
        assert (await userinfo(world, tokens["access_token"])).status_code == 200
    response = await world["browser"].http.get(
        "/oauth/logout?" + urlencode({"id_token_hint": with_refresh["id_token"]})
    )
    assert response.status_code == 200, response.text
    for tokens in (with_refresh, without):
        assert (await userinfo(world, tokens["access_token"])).status_code == 401
    assert await introspect(world, with_refresh["access_token"]) == {"active": False}
    assert await introspect(world, without["access_token"], world["code_only"]) == {"active": False}


async def test_opaque_client_credentials_tokens(world) -> None:
    settings = world["live"].settings
    service = await service_client(settings, access_token_format="opaque", scopes=["data.read"])
    response = await world["http"].post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "data.read"},
        auth=auth(service),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"].lower() == "bearer" and body["scope"] == "data.read"
    assert body["expires_in"] == settings.access_token_ttl
    token = body["access_token"]
    assert token.startswith("yat_") and "." not in token, "no session to name"
    seen = await introspect(world, token, service)
    assert seen["active"] is True and seen["sub"] == service.client.client_id
    assert seen["scope"] == "data.read" and "sid" not in seen
    info = await userinfo(world, token)
    assert info.status_code == 403  # a service token has no openid scope
    revoked = await world["http"].post("/oauth/revoke", data={"token": token}, auth=auth(service))
    assert revoked.status_code == 200
    assert await introspect(world, token, service) == {"active": False}


async def test_jwt_remains_the_default(world) -> None:
    assert world["other"].client.access_token_format == "jwt"
    assert world["opaque"].client.access_token_format == "opaque"
    async with second_instance(world["live"].settings) as services:
        stored = await services.clients.get(world["opaque"].client.client_id)
    assert stored is not None and stored.access_token_format == "opaque"


async def test_an_unknown_format_is_refused_at_registration(live_server) -> None:
    from gateway.identity.errors import InvalidInput

    async with second_instance(live_server.settings) as admin:
        with pytest.raises(InvalidInput) as refused:
            await admin.clients.register(
                name="x", redirect_uris=[CALLBACK], access_token_format="jwe"
            )
    assert "access_token_format" in str(refused.value.args)
