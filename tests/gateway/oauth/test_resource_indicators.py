"""Resource indicators (RFC 8707) on both backends: department APIs registered through the
command line, ``resource`` at the authorization and token endpoints narrowing the token's aud
and scopes, client credentials tokens with a real audience, and ``invalid_target``."""

from __future__ import annotations

from urllib.parse import urlencode

import httpx
import pytest
from jose import jwt as jose_jwt

from tests.gateway.browser import Browser
from tests.gateway.helpers import second_instance
from tests.gateway.oauth.cli_of import cli_of

PASSWORD = "correct horse battery"
CALLBACK = "https://portal.example.gov.cn/cb"
TAX = "https://api.tax.city.gov.cn/"
FUND = "https://api.fund.city.gov.cn/v1"
SECRET = "https://api.secret.city.gov.cn/"


@pytest.fixture
async def world(live_server):
    cli = cli_of(live_server)
    async with second_instance(live_server.settings) as admin:
        await admin.accounts.create_local(username="sun", password=PASSWORD, name="孙七")
        portal = await admin.clients.register(
            name="政务门户",
            redirect_uris=[CALLBACK],
            scopes=["tax.read", "fund.read"],
        )
        batch = await admin.clients.register(
            name="数据交换",
            grant_types=["client_credentials"],
            scopes=["tax.read", "tax.write"],
        )
        # Registered with the API's scope by a department, but not named by the API.
        rogue = await admin.clients.register(
            name="某区数据服务", grant_types=["client_credentials"], scopes=["tax.read"]
        )
    tax = await cli("resources", "create", "--audience", TAX, "--scope", "tax.read", "--scope",
                    "tax.write", "--name", "税务接口", "--allowed-client", portal.client.client_id,
                    "--allowed-client", batch.client.client_id)  # fmt: skip
    assert tax["audience"] == TAX and tax["scopes"] == ["tax.read", "tax.write"]
    await cli("resources", "create", "--audience", FUND, "--scope", "fund.read",
              "--access-token-format", "opaque",
              "--allowed-client", portal.client.client_id)  # fmt: skip
    await cli("resources", "create", "--audience", SECRET, "--scope", "secret.read")
    return {"live": live_server, "portal": portal, "batch": batch, "rogue": rogue, "cli": cli}


async def token(live, registered, **form: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=live.url) as http:
        return await http.post(
            "/oauth/token",
            data=form,
            auth=(registered.client.client_id, registered.client_secret),
        )


def claims_of(access_token: str) -> dict:
    return jose_jwt.get_unverified_claims(access_token)


async def test_client_credentials_tokens_name_their_api(world) -> None:
    live, batch = world["live"], world["batch"]
    plain = await token(live, batch, grant_type="client_credentials")
    assert plain.status_code == 200, plain.text
    assert claims_of(plain.json()["access_token"])["aud"] == TAX  # not the client id
    narrowed = await token(
        live, batch, grant_type="client_credentials", scope="tax.read", resource=TAX
    )
    claims = claims_of(narrowed.json()["access_token"])
    assert claims["aud"] == TAX and claims["scope"] == "tax.read"
    for resource in (SECRET, "https://api.unknown.city.gov.cn/", "not a uri"):
        refused = await token(live, batch, grant_type="client_credentials", resource=resource)
        assert refused.status_code == 400, resource
        assert refused.json()["error"] == "invalid_target", resource
    rogue = world["rogue"]
    own = await token(live, rogue, grant_type="client_credentials")
    assert claims_of(own.json()["access_token"])["aud"] == rogue.client.client_id
    asked = await token(live, rogue, grant_type="client_credentials", resource=TAX)
    assert asked.status_code == 400 and asked.json()["error"] == "invalid_target"
    wrong_secret = await token(live, world["portal"], grant_type="client_credentials", resource=TAX)
    assert wrong_secret.status_code in (400, 401)
    assert wrong_secret.json()["error"] != "invalid_target"


async def test_resource_at_authorization_and_token_endpoints(world) -> None:
    live, portal = world["live"], world["portal"]
    browser = Browser(live.url)
    params = {
        "response_type": "code",
        "client_id": portal.client.client_id,
        "redirect_uri": CALLBACK,
        "scope": "openid profile tax.read fund.read",
        "state": "st",
    }
    try:
        # Checked before anybody signs in, and answered to the client (RFC 8707 §2).
        unknown = await browser.go(
            f"{live.url}/oauth/authorize?{urlencode({**params, 'resource': SECRET})}"
        )
        refused = httpx.URL(unknown.headers["location"])
        assert refused.params["error"] == "invalid_target" and refused.params["state"] == "st"
        arrival = await browser.go(
            f"{live.url}/oauth/authorize?{urlencode({**params, 'resource': TAX})}",
            username="sun",
            password=PASSWORD,
        )
        code = httpx.URL(arrival.headers["location"]).params["code"]
        arrival = await browser.go(
            f"{live.url}/oauth/authorize?{urlencode({**params, 'resource': TAX})}"
        )
        other_code = httpx.URL(arrival.headers["location"]).params["code"]
    finally:
        await browser.close()
    exchange = {"grant_type": "authorization_code", "redirect_uri": CALLBACK}
    mismatch = await token(live, portal, code=other_code, resource=FUND, **exchange)
    assert mismatch.status_code == 400 and mismatch.json()["error"] == "invalid_target"
    granted = await token(live, portal, code=code, **exchange)
    assert granted.status_code == 200, granted.text
    tokens = granted.json()
    claims = claims_of(tokens["access_token"])
    assert claims["aud"] == TAX
    assert claims["scope"].split() == ["openid", "profile", "tax.read"]
    assert claims_of(tokens["id_token"])["name"] == "孙七"  # the ID token is not narrowed
    # A refresh may ask for another API the grant covers; the refresh token keeps the grant.
    fund = await token(
        live, portal, grant_type="refresh_token", refresh_token=tokens["refresh_token"],
        resource=FUND,
    )  # fmt: skip
    assert fund.status_code == 200, fund.text
    assert fund.json()["access_token"].startswith("yat_")  # the API wants opaque tokens
    assert fund.json()["scope"].split() == ["openid", "profile", "fund.read"]
    whole = await token(
        live, portal, grant_type="refresh_token", refresh_token=fund.json()["refresh_token"]
    )
    assert set(claims_of(whole.json()["access_token"])["scope"].split()) == {
        "openid", "profile", "tax.read", "fund.read"
    }  # fmt: skip


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_the_command_line_manages_resources(world) -> None:
    cli = world["cli"]
    listed = (await cli("resources", "list"))["resources"]
    assert [r["audience"] for r in listed] == sorted([TAX, FUND, SECRET])
    assert "exists" in await cli.refused("resources", "create", "--audience", TAX, "--scope", "x")
    for bad, words in (
        (["--audience", "https://a.example/#f", "--scope", "x"], "fragment"),
        (["--audience", "http://a.example/", "--scope", "x"], "https"),
        (["--audience", "https://a.example/", "--scope", "openid"], "OpenID"),
        (["--audience", "https://a.example/", "--scope", "x", "--allowed-client", "nope"], "nope"),
    ):
        assert words in await cli.refused("resources", "create", *bad), bad
    assert "No such resource" in await cli.refused("resources", "delete", "https://no.example/")
    await cli.refused("resources", "delete", SECRET, "--json")  # no such option: it prints a line
