"""A certified relying-party library, panva's openid-client (v6, Node), completes the mobile
flows against the gateway, provisioned through the command line: PAR with PKCE and DPoP (the
client requires both), a loopback redirect on a port of the app's choosing, UserInfo and refresh
with DPoP, and client credentials for a registered resource."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from jose import jwt as jose_jwt

from tests.conftest import REQUIRE_SERVICES
from tests.gateway.browser import Browser
from tests.gateway.helpers import second_instance
from tests.gateway.oauth.cli_of import cli_of

PEER = Path(__file__).parent / "openid_client"
PASSWORD = "correct horse battery"
TAX = "https://api.tax.city.gov.cn/"


@pytest.fixture(scope="session")
def openid_client() -> Path:
    node = shutil.which("node")
    if node is None:
        if REQUIRE_SERVICES:
            pytest.fail("node is needed for the openid-client tests")
        pytest.skip("node is not installed")
    if not (PEER / "node_modules" / "openid-client").exists():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
            cwd=PEER, check=True, stdout=subprocess.DEVNULL, timeout=300,
        )  # fmt: skip
    return PEER / "flows.mjs"


async def _line(process: asyncio.subprocess.Process) -> dict:
    assert process.stdout is not None
    raw = await asyncio.wait_for(process.stdout.readline(), 60)
    assert raw, "openid-client said nothing"
    message = json.loads(raw)
    assert "error" not in message, message["error"]
    return message


async def test_openid_client_completes_the_mobile_flows(live_server, openid_client) -> None:
    live, cli = live_server, cli_of(live_server)
    async with second_instance(live.settings) as admin:
        await admin.accounts.create_local(username="wu", password=PASSWORD, name="吴八")
    app = await cli(
        "clients", "create", "--name", "一号通", "--public",
        "--redirect-uri", "http://127.0.0.1/callback", "--dpop-bound-access-tokens",
        "--require-pushed-authorization-requests",
    )  # fmt: skip
    service = await cli(
        "clients", "create", "--name", "移动办公后端", "--grant-type", "client_credentials",
        "--scope", "tax.read",
    )  # fmt: skip
    await cli("resources", "create", "--audience", TAX, "--scope", "tax.read",
              "--allowed-client", service["client_id"])  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        "node", str(openid_client), live.settings.issuer, app["client_id"],
        "http://127.0.0.1:53117/callback", service["client_id"], service["client_secret"], TAX,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    browser = Browser(live.url)
    try:
        authorize = (await _line(process))["authorize"]
        assert "request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3A" in authorize
        arrival = await browser.go(authorize, username="wu", password=PASSWORD)
        location = arrival.headers["location"]
        assert location.startswith("http://127.0.0.1:53117/callback?code=")
        assert process.stdin is not None
        process.stdin.write(location.encode() + b"\n")
        await process.stdin.drain()
        result = (await _line(process))["result"]
    finally:
        await browser.close()
        if process.returncode is None:
            process.kill()
        await process.wait()
    assert result["par_endpoint"] == live.settings.issuer + "/oauth/par"
    assert "ES256" in result["dpop_algs"]
    assert result["token_type"].lower() == "dpop" and result["refresh_token_type"].lower() == "dpop"
    for token in (result["access_token"], result["refreshed_access_token"]):
        assert "jkt" in jose_jwt.get_unverified_claims(token)["cnf"]
    assert result["userinfo_name"] == "吴八"
    assert result["userinfo_again_sub"] == result["subject"]
    api = jose_jwt.get_unverified_claims(result["api_token"])
    assert api["aud"] == TAX and api["scope"] == "tax.read"
    assert result["api_introspected"]["active"] is True
    assert result["api_introspected"]["aud"] == TAX
    assert result["unknown_resource_error"] == "invalid_target"
