"""The kit's DPoP server nonces (RFC 9449 §9), its replay cache shared in Redis by two
instances of the example API, EdDSA proofs refused with a reason (python-jose cannot verify
them), and a gateway token issued for another registered resource (RFC 8707) refused."""

from __future__ import annotations

import secrets
import time

import httpx
import pytest
from joserfc import jwt as joserfc_jwt
from joserfc.jwk import ECKey, OKPKey
from yihaotong_resource import RedisReplayCache, ResourceConfig

from tests.gateway.oauth.cli_of import cli_of
from tests.kits.test_department_api import (
    API,
    Clock,
    bound_token,
    challenge,
    department_api,
    proof,
    world,  # noqa: F401 (a fixture)
)

NONCES = {"dpop_nonce_secret": b"shebao nonce secret, 32 bytes ok", "dpop_nonce_lifetime": 60}
URL = f"{API}/records/9"


def dpop(token: str, key, **changes) -> dict[str, str]:
    return {"Authorization": f"DPoP {token}", "DPoP": proof(key, "GET", URL, token, **changes)}


async def test_an_api_giving_nonces_asks_for_one_then_accepts_it(world) -> None:  # noqa: F811
    key = ECKey.generate_key("P-256")
    token, audience = await bound_token(world, key)
    clock = Clock()
    async with (
        department_api(world, audience, clock, **NONCES) as api,
        department_api(world, audience, clock, **NONCES) as other_instance,
    ):
        asked = await api.get("/records/9", headers=dpop(token, key))
        assert asked.status_code == 401
        assert challenge(asked).startswith("DPoP ")
        assert 'error="use_dpop_nonce"' in challenge(asked)
        nonce = asked.headers["dpop-nonce"]

        forged = await api.get("/records/9", headers=dpop(token, key, nonce=nonce[:-2] + "xx"))
        assert 'error="use_dpop_nonce"' in challenge(forged)
        accepted = await other_instance.get("/records/9", headers=dpop(token, key, nonce=nonce))
        assert accepted.status_code == 200, accepted.text
        assert accepted.headers["dpop-nonce"]  # the next one to use

        clock.now += 2 * 60 + 1  # two lifetimes on: that nonce is stale
        stale = await api.get(
            "/records/9", headers=dpop(token, key, nonce=nonce, iat=int(clock.now))
        )
        assert stale.status_code == 401 and 'error="use_dpop_nonce"' in challenge(stale)
        assert stale.headers["dpop-nonce"] != nonce
    async with department_api(world, audience) as plain:  # without a secret: no nonce
        assert (await plain.get("/records/9", headers=dpop(token, key))).status_code == 200


async def test_two_instances_sharing_a_redis_replay_cache_accept_a_proof_once(
    world,  # noqa: F811
    redis_url,
) -> None:
    key = ECKey.generate_key("P-256")
    token, audience = await bound_token(world, key)
    prefix = f"yht-test:{secrets.token_hex(6)}:dpop-jti:"
    headers = dpop(token, key)
    async with (
        department_api(world, audience, replay_cache=RedisReplayCache.from_url(redis_url, prefix))
        as first,
        department_api(world, audience, replay_cache=RedisReplayCache.from_url(redis_url, prefix))
        as second,
    ):  # fmt: skip
        assert (await first.get("/records/9", headers=headers)).status_code == 200
        replayed = await second.get("/records/9", headers=headers)
        assert replayed.status_code == 401
        assert 'error="invalid_dpop_proof"' in challenge(replayed)
        assert "used before" in replayed.json()["error_description"]
        fresh = await second.get("/records/9", headers=dpop(token, key))
        assert fresh.status_code == 200, fresh.text


async def test_eddsa_proofs_are_refused_with_the_reason(world) -> None:  # noqa: F811
    key = ECKey.generate_key("P-256")
    token, audience = await bound_token(world, key)
    ed = OKPKey.generate_key("Ed25519")
    claims = {"jti": secrets.token_urlsafe(12), "htm": "GET", "htu": URL, "iat": int(time.time())}
    header = {"typ": "dpop+jwt", "alg": "EdDSA", "jwk": ed.as_dict(private=False)}
    ed_proof = joserfc_jwt.encode(header, claims, ed, algorithms=["EdDSA"])
    async with department_api(world, audience) as api:
        answer = await api.get("/records/9", headers={"Authorization": f"DPoP {token}",
                                                      "DPoP": ed_proof})  # fmt: skip
    assert answer.status_code == 401
    assert 'error="invalid_dpop_proof"' in challenge(answer)
    assert "EdDSA proofs are not supported" in answer.json()["error_description"]
    with pytest.raises(ValueError, match="python-jose cannot verify EdDSA"):
        ResourceConfig(issuer="https://id.test", audience=API, dpop_algorithms=("EdDSA",))


async def test_a_gateway_token_for_another_registered_resource_is_refused(world) -> None:  # noqa: F811
    live, caller = world["live"], world["caller"]
    cli = cli_of(live)
    shebao, gongjijin = "https://shebao.city.gov.cn/", "https://gongjijin.city.gov.cn/"
    for audience in (shebao, gongjijin):
        await cli("resources", "create", "--audience", audience, "--scope", "data.read",
                  "--allowed-client", caller.client.client_id)  # fmt: skip

    async def token_for(resource: str) -> str:
        async with httpx.AsyncClient(base_url=live.url) as http:
            answer = await http.post(
                "/oauth/token",
                data={
                    "grant_type": "client_credentials",
                    "scope": "data.read",
                    "resource": resource,
                },
                auth=(caller.client.client_id, caller.client_secret),
            )
        assert answer.status_code == 200, answer.text
        return answer.json()["access_token"]

    async with department_api(world, shebao) as api:
        own = await api.get(
            "/records/1", headers={"Authorization": f"Bearer {await token_for(shebao)}"}
        )
        other = await api.get(
            "/records/1", headers={"Authorization": f"Bearer {await token_for(gongjijin)}"}
        )
    assert own.status_code == 200, own.text
    assert other.status_code == 401
    assert 'error="invalid_token"' in challenge(other)
