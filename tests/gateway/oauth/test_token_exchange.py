"""Token exchange (RFC 8693) on both backends: a service trades a person's access token for one
to a department API, as delegation (``act``), only for APIs that let it; every refusal is the
RFC's error."""

from __future__ import annotations

from urllib.parse import urlencode

import httpx
from jose import jwt as jose_jwt

from tests.gateway.browser import Browser
from tests.gateway.helpers import second_instance
from tests.gateway.oauth.cli_of import cli_of

PASSWORD = "correct horse battery"
CALLBACK = "https://office.example.gov.cn/cb"
TAX = "https://api.tax.city.gov.cn/"
FUND = "https://api.fund.city.gov.cn/"
ARCHIVE = "https://api.archive.city.gov.cn/"
EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS = "urn:ietf:params:oauth:token-type:access_token"


async def person_token(live, office) -> str:
    params = {
        "response_type": "code",
        "client_id": office.client.client_id,
        "redirect_uri": CALLBACK,
        "scope": "openid profile tax.read fund.read",
    }
    browser = Browser(live.url)
    try:
        arrival = await browser.go(
            f"{live.url}/oauth/authorize?{urlencode(params)}", username="zheng", password=PASSWORD
        )
    finally:
        await browser.close()
    code = httpx.URL(arrival.headers["location"]).params["code"]
    answer = await post(live, office, grant_type="authorization_code", code=code,
                        redirect_uri=CALLBACK)  # fmt: skip
    return answer.json()["access_token"]


async def post(live, registered, path: str = "/oauth/token", **form: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=live.url) as http:
        return await http.post(
            path, data=form, auth=(registered.client.client_id, registered.client_secret)
        )


async def exchange(live, registered, subject: str, **form: str) -> httpx.Response:
    form = {"subject_token_type": ACCESS, **form}
    return await post(live, registered, grant_type=EXCHANGE, subject_token=subject, **form)


async def test_a_service_exchanges_a_persons_token_as_its_delegate(live_server) -> None:
    live, cli = live_server, cli_of(live_server)
    async with second_instance(live.settings) as admin:
        await admin.accounts.create_local(username="zheng", password=PASSWORD, name="郑九")
        grants = ["authorization_code", "refresh_token", EXCHANGE]
        office = await admin.clients.register(
            name="移动办公后端", redirect_uris=[CALLBACK], grant_types=grants,
            scopes=["tax.read", "fund.read"],
        )  # fmt: skip
        tax_backend = await admin.clients.register(
            name="税务后端", grant_types=["client_credentials", EXCHANGE], scopes=["x.read"]
        )
        stranger = await admin.clients.register(
            name="其他服务", grant_types=["client_credentials", EXCHANGE], scopes=["x.read"]
        )
    await cli("resources", "create", "--audience", TAX, "--scope", "tax.read",
              "--exchange-client", office.client.client_id,
              "--allowed-client", tax_backend.client.client_id)  # fmt: skip
    await cli("resources", "create", "--audience", FUND, "--scope", "fund.read")
    await cli("resources", "create", "--audience", ARCHIVE, "--scope", "tax.read",
              "--exchange-client", tax_backend.client.client_id)  # fmt: skip
    async with httpx.AsyncClient(base_url=live.url) as http:
        discovery = (await http.get("/.well-known/openid-configuration")).json()
    assert EXCHANGE in discovery["grant_types_supported"]

    subject = await person_token(live, office)
    person = jose_jwt.get_unverified_claims(subject)
    exchanged = await exchange(live, office, subject, resource=TAX)
    assert exchanged.status_code == 200, exchanged.text
    body = exchanged.json()
    assert body["issued_token_type"] == ACCESS and body["token_type"] == "Bearer"
    assert "refresh_token" not in body
    claims = jose_jwt.get_unverified_claims(body["access_token"])
    assert claims["aud"] == TAX and claims["sub"] == person["sub"]
    assert claims["act"] == {"sub": office.client.client_id}
    assert claims["scope"] == "tax.read" and claims["client_id"] == office.client.client_id
    assert claims["sid"] == person["sid"]  # ends with the person's sign-in session

    # The tax API's back end, which received it, passes it on: the actors nest (§4.1).
    onward = await exchange(live, tax_backend, body["access_token"], audience=ARCHIVE)
    assert onward.status_code == 200, onward.text
    nested = jose_jwt.get_unverified_claims(onward.json()["access_token"])
    assert nested["act"] == {
        "sub": tax_backend.client.client_id, "act": {"sub": office.client.client_id}
    }  # fmt: skip
    assert nested["aud"] == ARCHIVE and nested["scope"] == "tax.read"
    introspected = await post(
        live, tax_backend, "/oauth/introspect", token=onward.json()["access_token"]
    )
    assert introspected.json()["act"]["sub"] == tax_backend.client.client_id

    refusals = [
        (stranger, subject, {"resource": TAX}, "invalid_grant"),  # not meant for it
        (office, subject, {"resource": FUND}, "invalid_target"),  # not an exchange client
        (office, subject, {"resource": "https://unknown.example/"}, "invalid_target"),
        (office, subject, {"resource": TAX, "audience": FUND}, "invalid_target"),
        (office, subject, {}, "invalid_target"),
        (office, subject, {"resource": TAX, "scope": "fund.read"}, "invalid_scope"),
        (office, "yat_" + "x" * 43, {"resource": TAX}, "invalid_grant"),
        (office, subject + "x", {"resource": TAX}, "invalid_grant"),
        (office, subject, {"resource": TAX, "subject_token_type": "urn:x"}, "invalid_request"),
        (office, subject, {"resource": TAX, "actor_token": "a"}, "invalid_request"),
    ]
    for client, token, form, error in refusals:
        answer = await exchange(live, client, token, **form)
        assert answer.status_code == 400, (form, answer.text)
        assert answer.json()["error"] == error, (form, answer.text)
    # A client without the grant type is unauthorized_client; a revoked subject token is gone.
    assert (await post(live, office, "/oauth/revoke", token=subject)).status_code == 200
    revoked = await exchange(live, office, subject, resource=TAX)
    assert revoked.json()["error"] == "invalid_grant"


async def test_a_token_of_an_app_out_of_service_is_not_exchanged(live_server) -> None:
    # Introspection called a suspended app's tokens inactive, yet another service could still
    # exchange one for a fresh token (even once the app was retired).
    live, cli = live_server, cli_of(live_server)
    async with second_instance(live.settings) as admin:
        await admin.accounts.create_local(username="zheng", password=PASSWORD, name="郑九")
        grants = ["authorization_code", "refresh_token", EXCHANGE]
        office = await admin.clients.register(
            name="移动办公后端", redirect_uris=[CALLBACK], grant_types=grants,
            scopes=["tax.read", "fund.read"],
        )  # fmt: skip
        tax_backend = await admin.clients.register(
            name="税务后端", grant_types=["client_credentials", EXCHANGE], scopes=["x.read"]
        )
    await cli("resources", "create", "--audience", TAX, "--scope", "tax.read",
              "--exchange-client", office.client.client_id,
              "--allowed-client", tax_backend.client.client_id)  # fmt: skip
    await cli("resources", "create", "--audience", ARCHIVE, "--scope", "tax.read",
              "--exchange-client", tax_backend.client.client_id)  # fmt: skip
    subject = await person_token(live, office)
    exchanged = await exchange(live, office, subject, resource=TAX)
    assert exchanged.status_code == 200, exchanged.text
    onward_token = exchanged.json()["access_token"]
    for state in ("suspended", "retired"):
        await cli("clients", "state", office.client.client_id, state)
        live.app.state.services.clients.forget(office.client.client_id)
        onward = await exchange(live, tax_backend, onward_token, audience=ARCHIVE)
        assert onward.status_code == 400, onward.text
        assert onward.json()["error"] == "invalid_grant"
