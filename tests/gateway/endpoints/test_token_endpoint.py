"""The token endpoint with the client_credentials grant, over real HTTP, on both backends.
Tokens are checked by python-jose (what department apps use) against the served JWKS."""

from __future__ import annotations

import base64

import httpx
import pytest
from jose import jwt as jose_jwt
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.conftest import running_gateway
from tests.gateway.helpers import fetch_jwks, service_client

TOKEN = "/oauth/token"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = f"{client_id}:{secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


async def test_client_secret_basic_issues_an_rfc9068_token(live_server) -> None:
    registered = await service_client(live_server.settings)
    client_id, secret = registered.client.client_id, registered.client_secret
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        response = await http.post(
            TOKEN, data={"grant_type": "client_credentials"}, headers=basic(client_id, secret)
        )
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 600
    assert body["scope"] == "data.read data.write"
    assert "refresh_token" not in body  # RFC 6749 §4.4.3

    jwks = await fetch_jwks(live_server.url)
    header = jose_jwt.get_unverified_header(body["access_token"])
    assert header["typ"] == "at+jwt"
    assert header["alg"] == "RS256"
    assert header["kid"] in {key["kid"] for key in jwks["keys"]}
    claims = jose_jwt.decode(
        body["access_token"],
        jwks,
        algorithms=["RS256"],
        audience=client_id,
        issuer=live_server.settings.issuer,
    )
    assert claims["sub"] == client_id
    assert claims["client_id"] == client_id
    assert claims["scope"] == "data.read data.write"
    assert claims["exp"] - claims["iat"] == 600
    assert len(claims["jti"]) >= 22


async def test_client_secret_post_and_a_narrower_scope(live_server) -> None:
    registered = await service_client(live_server.settings)
    form = {
        "grant_type": "client_credentials",
        "client_id": registered.client.client_id,
        "client_secret": registered.client_secret,
        "scope": "data.read",
    }
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        first = await http.post(TOKEN, data=form)
        second = await http.post(TOKEN, data=form)
    assert first.status_code == 200, first.text
    assert first.json()["scope"] == "data.read"
    jwks = await fetch_jwks(live_server.url)
    claims = [
        jose_jwt.decode(r.json()["access_token"], jwks, audience=registered.client.client_id)
        for r in (first, second)
    ]
    assert claims[0]["scope"] == "data.read"
    assert claims[0]["jti"] != claims[1]["jti"]


@pytest.mark.parametrize("alg", ["ES256", "EdDSA"])
async def test_other_signing_algorithms(settings_for, alg: str) -> None:
    with running_gateway(settings_for, signing_algs=alg) as live:
        registered = await service_client(live.settings)
        async with httpx.AsyncClient(base_url=live.url) as http:
            response = await http.post(
                TOKEN,
                data={"grant_type": "client_credentials"},
                headers=basic(registered.client.client_id, registered.client_secret),
            )
        token = response.json()["access_token"]
        jwks = await fetch_jwks(live.url)
    if alg == "ES256":  # python-jose has no EdDSA
        jose_jwt.decode(token, jwks, algorithms=[alg], audience=registered.client.client_id)
    decoded = jwt.decode(token, KeySet.import_key_set(jwks), algorithms=[alg])
    assert decoded.header["alg"] == alg
    assert decoded.claims["client_id"] == registered.client.client_id


async def test_wrong_secret_and_unknown_client_look_the_same(live_server) -> None:
    registered = await service_client(live_server.settings)
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        wrong = await http.post(
            TOKEN,
            data={"grant_type": "client_credentials"},
            headers=basic(registered.client.client_id, "not-the-secret"),
        )
        unknown = await http.post(
            TOKEN,
            data={"grant_type": "client_credentials"},
            headers=basic("no-such-client", "whatever"),
        )
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert response.json() == {
            "error": "invalid_client",
            "error_description": "Client authentication failed.",
        }
        assert response.headers["www-authenticate"].startswith('Basic realm="yihaotong"')
        assert response.headers["cache-control"] == "no-store"


async def test_client_errors_by_method(live_server) -> None:
    pinned = await service_client(
        live_server.settings, token_endpoint_auth_method="client_secret_post"
    )
    code_client = await service_client(
        live_server.settings,
        grant_types=["authorization_code"],
        redirect_uris=["https://app.example.gov.cn/cb"],
        scopes=[],
    )
    public = await service_client(
        live_server.settings,
        public=True,
        grant_types=["authorization_code"],
        redirect_uris=["https://app.example.gov.cn/cb"],
        scopes=[],
    )
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        by_basic = await http.post(
            TOKEN,
            data={"grant_type": "client_credentials"},
            headers=basic(pinned.client.client_id, pinned.client_secret),
        )
        wrong_post = await http.post(
            TOKEN,
            data={
                "grant_type": "client_credentials",
                "client_id": pinned.client.client_id,
                "client_secret": "nope",
            },
        )
        no_auth = await http.post(TOKEN, data={"grant_type": "client_credentials"})
        not_allowed = await http.post(
            TOKEN,
            data={"grant_type": "client_credentials"},
            headers=basic(code_client.client.client_id, code_client.client_secret),
        )
        public_try = await http.post(
            TOKEN,
            data={"grant_type": "client_credentials", "client_id": public.client.client_id},
        )
    assert by_basic.status_code == 401 and by_basic.json()["error"] == "invalid_client"
    assert wrong_post.status_code == 401 and wrong_post.json()["error"] == "invalid_client"
    assert no_auth.status_code == 401 and no_auth.json()["error"] == "invalid_client"
    assert not_allowed.status_code == 400
    assert not_allowed.json()["error"] == "unauthorized_client"
    assert public_try.json()["error"] == "invalid_client"


async def test_grant_and_scope_errors(live_server) -> None:
    registered = await service_client(live_server.settings)
    auth = basic(registered.client.client_id, registered.client_secret)
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        unsupported = await http.post(TOKEN, data={"grant_type": "password"}, headers=auth)
        missing = await http.post(TOKEN, data={"scope": "data.read"}, headers=auth)
        bad_scope = await http.post(
            TOKEN, data={"grant_type": "client_credentials", "scope": "admin"}, headers=auth
        )
    assert unsupported.status_code == 400
    assert unsupported.json()["error"] == "unsupported_grant_type"
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    assert bad_scope.status_code == 400 and bad_scope.json()["error"] == "invalid_scope"
    for response in (unsupported, missing, bad_scope):
        assert response.headers["content-type"] == "application/json"
        assert response.headers["cache-control"] == "no-store"


async def test_malformed_requests_get_4xx_never_5xx(live_server) -> None:
    registered = await service_client(live_server.settings)
    auth = basic(registered.client.client_id, registered.client_secret)
    good = "grant_type=client_credentials"
    cases = {
        "json body": (
            {**auth, "Content-Type": "application/json"},
            b'{"grant_type": "client_credentials"}',
            400,
            "invalid_request",
        ),
        "no content type": (auth, good.encode(), 400, "invalid_request"),
        "latin-1 charset": (
            {**auth, "Content-Type": "application/x-www-form-urlencoded; charset=latin-1"},
            good.encode(),
            400,
            "invalid_request",
        ),
        "invalid utf-8": ({**auth, **FORM}, good.encode() + b"&x=%ff\xff", 400, "invalid_request"),
        "repeated parameter": (
            {**auth, **FORM},
            (good + "&scope=data.read&scope=data.write").encode(),
            400,
            "invalid_request",
        ),
        "oversize body": (
            {**auth, **FORM},
            (good + "&x=" + "a" * 20000).encode(),
            413,
            "invalid_request",
        ),
        "oversize parameter": (
            {**auth, **FORM},
            (good + "&scope=" + "a" * 5000).encode(),
            400,
            "invalid_request",
        ),
        "too many parameters": (
            {**auth, **FORM},
            (good + "".join(f"&p{i}=1" for i in range(100))).encode(),
            400,
            "invalid_request",
        ),
        "basic not base64": (
            {"Authorization": "Basic %%%not-base64", **FORM},
            good.encode(),
            401,
            "invalid_client",
        ),
        "basic not utf-8": (
            {"Authorization": "Basic " + base64.b64encode(b"\xff\xfe:x").decode(), **FORM},
            good.encode(),
            401,
            "invalid_client",
        ),
        "basic without secret": (
            {"Authorization": "Basic " + base64.b64encode(b"client-only").decode(), **FORM},
            good.encode(),
            401,
            "invalid_client",
        ),
        "basic with an empty secret": (
            {**basic(registered.client.client_id, ""), **FORM},
            good.encode(),
            401,
            "invalid_client",
        ),
        "two auth methods": (
            {**auth, **FORM},
            (good + f"&client_secret={registered.client_secret}").encode(),
            400,
            "invalid_request",
        ),
        "empty body": ({**auth, **FORM}, b"", 400, "invalid_request"),
        "garbage": ({**auth, **FORM}, b"\x00\x01\x02==&&&", 400, "invalid_request"),
    }
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        for name, (headers, body, status, error) in cases.items():
            response = await http.post(TOKEN, content=body, headers=headers)
            assert response.status_code == status, f"{name}: {response.status_code} {response.text}"
            assert response.json()["error"] == error, name
        wrong_method = await http.get(TOKEN)
    assert wrong_method.status_code == 405


async def test_control_characters_in_basic_credentials_are_refused(live_server) -> None:
    registered = await service_client(live_server.settings)
    client_id, secret = registered.client.client_id, registered.client_secret
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        for credentials in (f"{client_id}\t:{secret}", f"{client_id}:{secret}%7F"):
            encoded = base64.b64encode(credentials.encode()).decode()
            response = await http.post(
                TOKEN,
                data={"grant_type": "client_credentials"},
                headers={"Authorization": f"Basic {encoded}"},
            )
            assert response.status_code == 401, credentials
            assert "control characters" in response.json()["error_description"], credentials


async def test_basic_credentials_are_form_urlencoded(live_server) -> None:
    """RFC 6749 §2.3.1: client_id and secret are form-urlencoded before base64."""
    registered = await service_client(live_server.settings)
    secret = registered.client_secret
    assert secret is not None
    encoded_secret = "".join(f"%{ord(ch):02X}" for ch in secret[:3]) + secret[3:]
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        decoded = await http.post(
            TOKEN,
            data={"grant_type": "client_credentials"},
            headers=basic(registered.client.client_id, encoded_secret),
        )
        literal = await http.post(
            TOKEN,
            data={"grant_type": "client_credentials"},
            headers=basic(registered.client.client_id, secret[:3] + "%25" + secret[3:]),
        )
    assert decoded.status_code == 200, decoded.text
    assert literal.status_code == 401


async def test_secret_must_match_exactly(live_server) -> None:
    registered = await service_client(live_server.settings)
    secret = registered.client_secret
    assert secret is not None and len(base64.urlsafe_b64decode(secret + "=")) == 32
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        for attempt in (secret[:-1], secret + "x", secret.upper(), " " + secret):
            response = await http.post(
                TOKEN,
                data={"grant_type": "client_credentials"},
                headers=basic(registered.client.client_id, attempt),
            )
            assert response.status_code == 401, attempt
