"""Scale-out: two real ``yihaotong serve`` processes, each with its own data directory (the
master key copied between them, as between machines), share one PostgreSQL database and a
three-master Redis Cluster. Whatever one instance writes, the other must honour: sessions,
codes, refresh tokens, logout, lockout counters and signing keys. No request is pinned to an
instance (no sticky sessions)."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from typer.testing import CliRunner, Result

from gateway.cli import app
from tests.conftest import CHEAP_HASHING
from tests.gateway.browser import Browser, pkce_pair
from tests.gateway.cli.test_cli import YIHAOTONG
from tests.support import ServerProcess, free_port, serve

PASSWORD = "correct horse battery"
CALLBACK = "https://tax.example.gov.cn/cb"
BYE = "https://tax.example.gov.cn/bye"
# The name a load balancer would answer to; neither instance owns it.
ISSUER = "http://sso.yihaotong.test"
JWKS_MAX_AGE = 1  # lets the test rotate without --force (the next key must be this old)
RELOAD_SECONDS = 1  # the instances notice the rotation within this, not the production 30 s


@dataclass
class Pair:
    a: str
    b: str
    env: dict[str, str]
    client_id: str
    client_secret: str

    def cli(self, *args: str, stdin: str | None = None) -> dict:
        """The command, called in this process (the two servers are the processes here)."""
        done = run_cli(self.env, *args, "--json", stdin=stdin)
        assert done.exit_code == 0, done.stderr
        return json.loads(done.stdout)


def run_cli(env: dict[str, str], *args: str, stdin: str | None = None) -> Result:
    ours = {k: v for k, v in env.items() if k.startswith("YIHAOTONG_")}
    unset: dict[str, str | None] = {k: None for k in os.environ if k.startswith("YIHAOTONG_")}
    return CliRunner().invoke(app, list(args), input=stdin, env=unset | ours)


@pytest.fixture
def pair(tmp_path: Path, postgres_url: str, redis_cluster_url: str) -> Iterator[Pair]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("YIHAOTONG_")}
    base |= CHEAP_HASHING | {
        "YIHAOTONG_ISSUER": ISSUER,
        "YIHAOTONG_DATABASE_URL": postgres_url,
        "YIHAOTONG_REDIS_URL": redis_cluster_url,
        "YIHAOTONG_REDIS_PREFIX": f"yht-test:{secrets.token_hex(6)}:",
        "YIHAOTONG_JWKS_MAX_AGE": str(JWKS_MAX_AGE),
        "YIHAOTONG_KEY_RING_RELOAD_SECONDS": str(RELOAD_SECONDS),
        "YIHAOTONG_LOG_LEVEL": "WARNING",
    }
    env_a = base | {"YIHAOTONG_DATA_DIR": str(tmp_path / "a")}
    env_b = base | {"YIHAOTONG_DATA_DIR": str(tmp_path / "b")}
    init = run_cli(env_a, "init")
    assert init.exit_code == 0, init.stderr
    (tmp_path / "b").mkdir()
    shutil.copy2(tmp_path / "a" / "master.key", tmp_path / "b" / "master.key")

    servers: list[ServerProcess] = []
    try:
        for name, env in (("a", env_a), ("b", env_b)):
            port = free_port()
            servers.append(
                serve(
                    [YIHAOTONG, "serve", "--port", str(port)],
                    port,
                    f"http://127.0.0.1:{port}",
                    tmp_path / f"{name}.log",
                    env=env,
                )
            )
        for server in servers:
            assert httpx.get(f"{server.url}/readyz").status_code == 200
        made = Pair(servers[0].url, servers[1].url, env_a, "", "").cli(
            "clients", "create", "--name", "税务", "--redirect-uri", CALLBACK,
            "--post-logout-redirect-uri", BYE,
        )  # fmt: skip
        pair = Pair(servers[0].url, servers[1].url, env_a, made["client_id"], made["client_secret"])
        for username in ("wang", "li"):
            pair.cli("users", "create", "--username", username, "--password-stdin", stdin=PASSWORD)
        yield pair
    finally:
        for server in servers:
            server.stop()


def authorize(pair: Pair, **extra: str) -> str:
    params = {
        "response_type": "code",
        "client_id": pair.client_id,
        "redirect_uri": CALLBACK,
        "scope": "openid profile",
        "state": "st",
        **extra,
    }
    return f"/oauth/authorize?{urlencode(params)}"


async def token(base: str, pair: Pair, **form: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=base) as http:
        return await http.post("/oauth/token", data=form, auth=(pair.client_id, pair.client_secret))


async def jwks(base: str) -> tuple[KeySet, httpx.Response]:
    async with httpx.AsyncClient(base_url=base) as http:
        response = await http.get("/.well-known/jwks.json")
    assert response.status_code == 200
    return KeySet.import_key_set(response.json()), response


def kids(keys: KeySet) -> set[str]:
    return {str(key.kid) for key in keys}


async def fresh_browser(base: str, pair: Pair, **login: str) -> httpx.Response:
    """A new browser's authorization request at ``base``, signing in with ``login``."""
    browser = Browser(base)
    try:
        return await browser.go(authorize(pair), **login)
    finally:
        await browser.close()


def switch(browser: Browser, to: Browser) -> Browser:
    """The same browser, now routed to the other instance (as a load balancer may do)."""
    to.http.cookies = browser.http.cookies
    return to


@pytest.mark.slow
async def test_two_instances_act_as_one(pair: Pair) -> None:
    # Rotate first, through the command line (the shared database): the instances notice it in
    # their background reload, within RELOAD_SECONDS, while the rest of the test runs.
    keys_a, _ = await jwks(pair.a)
    keys_b, served = await jwks(pair.b)
    assert kids(keys_a) == kids(keys_b) and len(kids(keys_a)) == 2  # active + next
    assert served.headers["cache-control"] == f"public, max-age={JWKS_MAX_AGE}"
    await asyncio.sleep(JWKS_MAX_AGE)
    rotated = await asyncio.to_thread(pair.cli, "keys", "rotate")
    rotated_at = time.monotonic()
    assert rotated["rotated"] is True and rotated["next_kid"] not in kids(keys_a)

    on_a, on_b = Browser(pair.a), Browser(pair.b)
    try:
        # Sign in on A (authorization code + PKCE); redeem the code on B.
        verifier, challenge = pkce_pair()
        arrival = await on_a.go(
            authorize(pair, code_challenge=challenge, code_challenge_method="S256"),
            username="wang",
            password=PASSWORD,
        )
        assert arrival.status_code == 303, arrival.text
        code = httpx.URL(arrival.headers["location"]).params["code"]
        first = await token(
            pair.b, pair, grant_type="authorization_code", code=code,
            redirect_uri=CALLBACK, code_verifier=verifier,
        )  # fmt: skip
        assert first.status_code == 200, first.text
        tokens = first.json()

        # Refresh on B.
        refreshed = await token(
            pair.b, pair, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
        )
        assert refreshed.status_code == 200, refreshed.text
        id_token = tokens["id_token"]
        tokens = refreshed.json()
        claims = jwt.decode(tokens["access_token"], (await jwks(pair.a))[0]).claims
        assert claims["iss"] == ISSUER and claims["client_id"] == pair.client_id

        # The session made on A is live on B: prompt=none gets a code there.
        browser = switch(on_a, on_b)
        silent = await browser.go(authorize(pair, prompt="none"))
        assert "code" in httpx.URL(silent.headers["location"]).params
        # Kept to replay after the logout: A must refuse it from the shared store, not merely
        # because the browser forgot it.
        (session_cookie,) = [c for c in browser.http.cookies.jar if c.name == "yht_session"]

        # RP-initiated logout on B ends the session everywhere.
        bye = await browser.http.get(
            "/oauth/logout?"
            + urlencode({"id_token_hint": id_token, "post_logout_redirect_uri": BYE, "state": "x"})
        )
        assert bye.status_code == 303 and bye.headers["location"] == f"{BYE}?state=x"
        browser = switch(on_b, on_a)
        browser.http.cookies.jar.set_cookie(session_cookie)
        after = await browser.go(authorize(pair, prompt="none"))
        assert httpx.URL(after.headers["location"]).params["error"] == "login_required"
        dead = await token(
            pair.a, pair, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
        )
        assert dead.json()["error"] == "invalid_grant", "the session-bound refresh token ended"

        # Lockout counters are shared: five wrong passwords on A lock the account on B.
        for _ in range(5):
            refused = await fresh_browser(pair.a, pair, username="li", password="wrong")
            assert refused.status_code == 400 and refused.request.url.path == "/login"
        locked = await fresh_browser(pair.b, pair, username="li", password=PASSWORD)
        assert locked.status_code == 429, "the right password, but A counted five failures"
    finally:
        await on_a.close()
        await on_b.close()

    # Both instances serve the rotated ring once they have reloaded, and A signs with the
    # promoted key, which B publishes.
    deadline = rotated_at + RELOAD_SECONDS + 15
    for base in (pair.a, pair.b):
        while rotated["next_kid"] not in kids((await jwks(base))[0]):
            assert time.monotonic() < deadline, f"{base} still serves the old key ring"
            await asyncio.sleep(0.5)
    keys_b, _ = await jwks(pair.b)
    assert {rotated["active_kid"], rotated["next_kid"]} <= kids(keys_b)
    assert kids(keys_a) <= kids(keys_b), "the retired key stays published"
    # A code redeemed on A and replayed on B: refused, and what it gave on A is revoked.
    signed = await fresh_browser(pair.a, pair, username="wang", password=PASSWORD)
    code = httpx.URL(signed.headers["location"]).params["code"]
    redeem = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK}
    fresh = (await token(pair.a, pair, **redeem)).json()
    decoded = jwt.decode(fresh["id_token"], keys_b)
    assert decoded.header["kid"] == rotated["active_kid"]
    assert (await token(pair.b, pair, **redeem)).json()["error"] == "invalid_grant"
    revoked = await token(
        pair.a, pair, grant_type="refresh_token", refresh_token=fresh["refresh_token"]
    )
    assert revoked.json()["error"] == "invalid_grant"

    # An opaque access token issued on A is known on B (its record and marks sit in different
    # slots of the cluster), and revoked on B it is dead on A.
    api = await asyncio.to_thread(
        pair.cli, "clients", "create", "--name", "数据接口", "--grant-type", "client_credentials",
        "--scope", "data.read", "--access-token-format", "opaque", "--resource-server",
    )  # fmt: skip
    api_auth = (api["client_id"], api["client_secret"])
    async with httpx.AsyncClient() as http:
        issued = await http.post(
            f"{pair.a}/oauth/token", data={"grant_type": "client_credentials"}, auth=api_auth
        )
        opaque = issued.json()["access_token"]
        assert opaque.startswith("yat_")
        seen = await http.post(f"{pair.b}/oauth/introspect", data={"token": opaque}, auth=api_auth)
        assert seen.json()["active"] is True and seen.json()["client_id"] == api["client_id"]
        web = (pair.client_id, pair.client_secret)
        other = await http.post(f"{pair.b}/oauth/introspect", data={"token": opaque}, auth=web)
        assert other.json() == {"active": False}, "not a resource server, not its token"
        await http.post(f"{pair.b}/oauth/revoke", data={"token": opaque}, auth=api_auth)
        gone = await http.post(f"{pair.a}/oauth/introspect", data={"token": opaque}, auth=api_auth)
        assert gone.json() == {"active": False}
