"""The yihaotong-resource kit, driven through the example department API (examples/) with tokens
from a live gateway: JWT and opaque access tokens, audience, scope and acr, DPoP proofs made
here with joserfc (RFC 9449), the JWKS refresh limit and back-channel logout."""

from __future__ import annotations

import secrets
import time
import uuid
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import Depends, FastAPI
from jose import jwt as jose_jwt
from joserfc import jwt as joserfc_jwt
from joserfc.jwk import ECKey, RSAKey
from yihaotong_resource import Principal, ResourceConfig, ResourceServer, thumbprint

from examples.department_api import create_app
from gateway.oauth.backchannel import logout_token
from tests.gateway.helpers import second_instance, service_client

API = "http://shebao.test"


class Clock:
    """The kit's clock, moved by hand (DPoP iat window, JWKS refresh limit)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def world(live_server):
    settings = live_server.settings
    api_client = await service_client(settings, name="社保局业务接口", resource_server=True)
    caller = await service_client(settings, name="移动办公后端")
    opaque_caller = await service_client(
        settings, name="便民服务后端", access_token_format="opaque"
    )
    return {"live": live_server, "api_client": api_client, "caller": caller,
            "opaque_caller": opaque_caller}  # fmt: skip


async def client_credentials(world, caller: str = "caller", **extra: str) -> httpx.Response:
    registered = world[caller]
    async with httpx.AsyncClient(base_url=world["live"].url) as http:
        return await http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials", "scope": "data.read data.write", **extra},
            auth=(registered.client.client_id, registered.client_secret),
        )


async def token_of(world, caller: str = "caller") -> str:
    response = await client_credentials(world, caller)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


async def audience_of(world, caller: str = "caller") -> str:
    """The audience the gateway gives a client credentials token (its resource URI once
    resources are registered, else the client id): the API under test is configured with it."""
    async with httpx.AsyncClient(base_url=world["live"].url) as http:
        registered = world["api_client"]
        answer = await http.post(
            "/oauth/introspect",
            data={"token": await token_of(world, caller)},
            auth=(registered.client.client_id, registered.client_secret),
        )
    aud = answer.json()["aud"]
    return aud[0] if isinstance(aud, list) else aud


@asynccontextmanager
async def department_api(
    world, audience: str, clock: Clock | None = None, replay_cache=None, **options
):
    registered = world["api_client"]
    config = ResourceConfig(
        issuer=world["live"].url,
        audience=audience,
        client_id=registered.client.client_id,
        client_secret=registered.client_secret,
        clock=clock or time.time,
        **options,
    )
    app = create_app(config, replay_cache)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=API) as http:
        http.app = app  # type: ignore[attr-defined]
        try:
            yield http
        finally:
            await app.state.resource_server.close()


async def gateway_signed(world, claims: dict) -> str:
    """An access token signed by the gateway's own key, as its token endpoint signs them."""
    async with second_instance(world["live"].settings) as services:
        return services.keys.sign(claims, services.keys.default_alg, typ="at+jwt")


def claims_for(world, audience: str, **extra) -> dict:
    now = int(time.time())
    caller = world["caller"].client.client_id
    return {"iss": world["live"].url, "aud": audience, "sub": caller, "client_id": caller,
            "iat": now, "exp": now + 300, "jti": uuid.uuid4().hex, "scope": "data.read data.write",
            **extra}  # fmt: skip


def challenge(response: httpx.Response) -> str:
    return response.headers["www-authenticate"]


# -- Bearer: JWT and opaque ------------------------------------------------------------------


async def test_a_client_credentials_jwt_reads_and_writes(world) -> None:
    token = await token_of(world)
    async with department_api(world, await audience_of(world)) as api:
        headers = {"Authorization": f"Bearer {token}"}
        read = await api.get("/records/42", headers=headers)
        written = await api.post("/records", headers=headers)
    assert read.status_code == 200, read.text
    assert read.json()["caller"]["client_id"] == world["caller"].client.client_id
    assert read.json()["caller"]["token_type"] == "Bearer"
    assert read.json()["caller"]["subject"] is None, "a service acting for itself"
    assert written.status_code == 201


async def test_an_opaque_token_is_introspected_once_then_cached(world) -> None:
    token = await token_of(world, "opaque_caller")
    assert token.count(".") < 2
    async with department_api(world, await audience_of(world, "opaque_caller")) as api:
        for _ in range(3):
            answer = await api.get("/records/7", headers={"Authorization": f"Bearer {token}"})
            assert answer.status_code == 200, answer.text
        assert api.app.state.resource_server.introspector.calls <= 1
        revoked = await api.get("/records/7", headers={"Authorization": "Bearer yat_forged"})
    assert revoked.status_code == 401
    assert 'error="invalid_token"' in challenge(revoked)


async def test_no_token_gets_a_bare_challenge_for_both_schemes(world) -> None:
    async with department_api(world, await audience_of(world)) as api:
        answer = await api.get("/records/1")
    assert answer.status_code == 401
    assert challenge(answer).startswith("Bearer")
    assert "DPoP" in challenge(answer) and 'algs="ES256' in challenge(answer)
    assert "error=" not in challenge(answer), "RFC 6750 §3.1: no error without credentials"


async def test_a_token_for_another_audience_is_refused(world) -> None:
    audience = await audience_of(world)
    token = await gateway_signed(world, claims_for(world, "https://gongjijin.test"))
    async with department_api(world, audience) as api:
        answer = await api.get("/records/1", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401
    assert 'error="invalid_token"' in challenge(answer)


@pytest.mark.parametrize(
    "change",
    [
        {"typ": "JWT"},  # an ID token or any other JWT is no access token (RFC 9068 §4)
        {"iss": "https://elsewhere.test"},
        {"exp": int(time.time()) - 3600},
    ],
)
async def test_tokens_that_are_not_this_gateways_access_tokens_are_refused(world, change) -> None:
    audience = await audience_of(world)
    claims = claims_for(world, audience)
    claims.update({name: value for name, value in change.items() if name != "typ"})
    typ = change.get("typ", "at+jwt")
    async with second_instance(world["live"].settings) as services:
        token = services.keys.sign(claims, services.keys.default_alg, typ=typ)
    async with department_api(world, audience) as api:
        answer = await api.get("/records/1", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401
    assert 'error="invalid_token"' in challenge(answer)


async def test_scope_and_acr_are_checked_with_their_own_errors(world) -> None:
    audience = await audience_of(world)
    reader = await gateway_signed(world, claims_for(world, audience, scope="data.read"))
    person = dict(claims_for(world, audience, sub="citizen-1", acr="L1"))
    weak = await gateway_signed(world, person)
    strong = await gateway_signed(world, {**person, "acr": "L3", "jti": uuid.uuid4().hex})
    async with department_api(world, audience) as api:
        write = await api.post("/records", headers={"Authorization": f"Bearer {reader}"})
        pay_weak = await api.post("/payments", headers={"Authorization": f"Bearer {weak}"})
        pay_strong = await api.post("/payments", headers={"Authorization": f"Bearer {strong}"})
    assert write.status_code == 403
    assert 'error="insufficient_scope"' in challenge(write)
    assert 'scope="data.write"' in challenge(write)
    assert pay_weak.status_code == 401
    assert 'error="insufficient_user_authentication"' in challenge(pay_weak)
    assert 'acr_values="L2 L3"' in challenge(pay_weak)
    assert pay_strong.status_code == 200, pay_strong.text
    assert pay_strong.json()["caller"] == {"client_id": world["caller"].client.client_id,
                                           "subject": "citizen-1", "token_type": "Bearer",
                                           "acr": "L3"}  # fmt: skip


# -- DPoP (RFC 9449) ---------------------------------------------------------------------------


def proof(key, method: str, url: str, token: str | None, **changes) -> str:
    from yihaotong_resource.dpop import access_token_hash

    claims = {"jti": secrets.token_urlsafe(12), "htm": method, "htu": url, "iat": int(time.time())}
    if token is not None:
        claims["ath"] = access_token_hash(token)
    claims.update(changes)
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.as_dict(private=False)}
    return joserfc_jwt.encode(header, claims, key)


async def bound_token(world, key) -> tuple[str, str]:
    """A DPoP-bound access token for ``key``: from the token endpoint when the gateway speaks
    DPoP, else signed by the gateway's key with the same claims plus ``cnf.jkt``."""
    url = world["live"].url + "/oauth/token"
    registered = world["caller"]
    async with httpx.AsyncClient() as http:
        response = await http.post(
            url,
            data={"grant_type": "client_credentials", "scope": "data.read data.write"},
            auth=(registered.client.client_id, registered.client_secret),
            headers={"DPoP": proof(key, "POST", url, None)},
        )
    assert response.status_code == 200, response.text
    body = response.json()
    claims = jose_jwt.get_unverified_claims(body["access_token"])
    audience = claims["aud"][0] if isinstance(claims["aud"], list) else claims["aud"]
    if body["token_type"].lower() == "dpop":
        return body["access_token"], audience
    claims["cnf"] = {"jkt": key.thumbprint()}
    return await gateway_signed(world, claims), audience


async def test_a_dpop_bound_token_with_a_fresh_proof_is_accepted(world) -> None:
    key = ECKey.generate_key("P-256")
    assert thumbprint(key.as_dict(private=False)) == key.thumbprint()  # RFC 7638, as joserfc
    token, audience = await bound_token(world, key)
    async with department_api(world, audience) as api:
        url = f"{API}/records/9"
        answer = await api.get(
            "/records/9?page=2",
            headers={"Authorization": f"DPoP {token}", "DPoP": proof(key, "GET", url, token)},
        )
    assert answer.status_code == 200, answer.text
    assert answer.json()["caller"]["token_type"] == "DPoP"


@pytest.mark.parametrize(
    "what",
    ["replayed", "method", "url", "ath", "other key", "old", "future", "no proof", "two proofs"],
)
async def test_a_bad_proof_is_invalid_dpop_proof(world, what: str) -> None:
    key = ECKey.generate_key("P-256")
    token, audience = await bound_token(world, key)
    url = f"{API}/records/9"
    good = proof(key, "GET", url, token)
    proofs = {
        "replayed": [good],
        "method": [proof(key, "POST", url, token)],
        "url": [proof(key, "GET", f"{API}/records/10", token)],
        "ath": [proof(key, "GET", url, token + "x")],
        "other key": [proof(ECKey.generate_key("P-256"), "GET", url, token)],
        "old": [proof(key, "GET", url, token, iat=int(time.time()) - 600)],
        "future": [proof(key, "GET", url, token, iat=int(time.time()) + 600)],
        "no proof": [],
        "two proofs": [good, proof(key, "GET", url, token)],
    }[what]
    async with department_api(world, audience) as api:
        if what == "replayed":
            first = await api.get(
                "/records/9", headers={"Authorization": f"DPoP {token}", "DPoP": good}
            )
            assert first.status_code == 200, first.text
        headers = [("Authorization", f"DPoP {token}")] + [("DPoP", p) for p in proofs]
        answer = await api.get("/records/9", headers=headers)
    assert answer.status_code == 401, answer.text
    assert challenge(answer).startswith("DPoP ")
    assert 'error="invalid_dpop_proof"' in challenge(answer)


async def test_a_bound_token_sent_as_bearer_is_refused(world) -> None:
    key = ECKey.generate_key("P-256")
    token, audience = await bound_token(world, key)
    async with department_api(world, audience) as api:
        answer = await api.get("/records/9", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401
    assert challenge(answer).startswith("Bearer ")
    assert 'error="invalid_token"' in challenge(answer)


async def test_an_api_that_requires_dpop_refuses_bearer_tokens(world) -> None:
    token = await token_of(world)
    async with department_api(world, await audience_of(world), require_dpop=True) as api:
        answer = await api.get("/records/9", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401
    assert 'error="invalid_token"' in challenge(answer)


# -- the gateway's keys ------------------------------------------------------------------------


async def test_an_unknown_kid_refreshes_the_jwks_at_most_once_every_few_seconds(world) -> None:
    audience = await audience_of(world)
    stranger = RSAKey.generate_key(2048, parameters={"kid": "not-published"})
    forged = joserfc_jwt.encode(
        {"alg": "RS256", "typ": "at+jwt", "kid": "not-published"},
        claims_for(world, audience),
        stranger,
    )
    genuine = await token_of(world)
    clock = Clock()
    async with department_api(world, audience, clock) as api:
        gateway = api.app.state.resource_server.gateway
        for _ in range(3):
            answer = await api.get("/records/1", headers={"Authorization": f"Bearer {forged}"})
            assert answer.status_code == 401
            assert 'error="invalid_token"' in challenge(answer)
        assert gateway.jwks_fetches == 1
        clock.now += 6
        await api.get("/records/1", headers={"Authorization": f"Bearer {forged}"})
        assert gateway.jwks_fetches == 2
        answer = await api.get("/records/1", headers={"Authorization": f"Bearer {genuine}"})
        assert answer.status_code == 200, answer.text
        assert gateway.jwks_fetches == 2, "a known kid needs no fetch"


async def test_an_unreachable_gateway_is_503_and_not_asked_again_at_once(world) -> None:
    from tests.conftest import free_port

    token = await token_of(world)
    clock = Clock()
    app = create_app(ResourceConfig(issuer=f"http://127.0.0.1:{free_port()}", audience=API,
                                    clock=clock))  # fmt: skip
    gateway = app.state.resource_server.gateway
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=API) as http:
        for _ in range(3):
            answer = await http.get("/records/1", headers={"Authorization": f"Bearer {token}"})
            assert answer.status_code == 503, answer.text
            assert answer.headers["retry-after"] == "5"
        assert gateway.jwks_attempts == 1
        clock.now += 6
        await http.get("/records/1", headers={"Authorization": f"Bearer {token}"})
        assert gateway.jwks_attempts == 2
    await gateway.close()


# -- back-channel logout -------------------------------------------------------------------------


async def test_a_back_channel_logout_calls_the_hook_and_ends_the_sessions_tokens(world) -> None:
    audience = await audience_of(world)
    api_id = world["api_client"].client.client_id
    sid = secrets.token_urlsafe(16)
    async with second_instance(world["live"].settings) as services:
        logout = logout_token(services, api_id, "citizen-1", sid)
        for_another = logout_token(services, "another-client", "citizen-1", sid)
    token = await gateway_signed(world, claims_for(world, audience, sid=sid))
    async with department_api(world, audience) as api:
        before = await api.get("/records/1", headers={"Authorization": f"Bearer {token}"})
        refused = await api.post("/backchannel-logout", data={"logout_token": for_another})
        done = await api.post("/backchannel-logout", data={"logout_token": logout})
        again = await api.post("/backchannel-logout", data={"logout_token": logout})
        missing = await api.post("/backchannel-logout", data={})
        after = await api.get("/records/1", headers={"Authorization": f"Bearer {token}"})
        ended = api.app.state.ended_sessions
    assert before.status_code == 200, before.text
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_request"
    assert done.status_code == 200, done.text
    assert done.headers["cache-control"] == "no-store"
    assert again.status_code == 400, "a logout token's jti is used once"
    assert missing.status_code == 400
    assert ended == [{"sub": "citizen-1", "sid": sid}]
    assert after.status_code == 401 and 'error="invalid_token"' in challenge(after)


# -- the README's ten lines ----------------------------------------------------------------------


async def test_the_readmes_ten_line_api_accepts_a_gateway_token(world) -> None:
    readme = (Path(__file__).resolve().parents[2] / "kits/python/README.md").read_text()
    code = readme.split("```python\n", 1)[1].split("```", 1)[0]
    assert len([line for line in code.splitlines() if line.strip()]) <= 10
    audience = await audience_of(world)
    code = code.replace('"https://id.example.gov.cn"', repr(world["live"].url))
    code = code.replace('"https://shebao.example.cn"', repr(audience))
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 (the README, as written)
    token = await token_of(world)
    transport = httpx.ASGITransport(app=namespace["app"])
    async with httpx.AsyncClient(transport=transport, base_url=API) as http:
        answer = await http.get("/records", headers={"Authorization": f"Bearer {token}"})
        refused = await http.get("/records", headers={"Authorization": "Bearer x.y.z"})
    await namespace["api"].close()
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"sub": None}, "a service acting for itself"
    assert refused.status_code == 401


# -- FastAPI -------------------------------------------------------------------------------------


async def test_a_fastapi_service_takes_the_caller_as_a_dependency(world) -> None:
    audience = await audience_of(world)
    server = ResourceServer(ResourceConfig(issuer=world["live"].url, audience=audience))
    app = FastAPI()
    reader = Depends(server.requires("data.read").dependency)
    writer = Depends(server.requires(scope="data.write", acr="L3").dependency)

    @app.get("/records")
    async def records(caller: Principal = reader):
        return {"client_id": caller.client_id, "scopes": sorted(caller.scopes)}

    @app.post("/records")
    async def write(caller: Principal = writer):
        return {"stored": True}

    token = await token_of(world)
    headers = {"Authorization": f"Bearer {token}"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=API) as http:
        read = await http.get("/records", headers=headers)
        stepped_up = await http.post("/records", headers=headers)
        anonymous = await http.get("/records")
    await server.close()
    assert read.status_code == 200, read.text
    assert read.json() == {"client_id": world["caller"].client.client_id,
                           "scopes": ["data.read", "data.write"]}  # fmt: skip
    assert stepped_up.status_code == 401
    assert 'error="insufficient_user_authentication"' in challenge(stepped_up)
    assert anonymous.status_code == 401 and "error=" not in challenge(anonymous)
