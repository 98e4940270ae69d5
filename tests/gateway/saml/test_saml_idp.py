"""一号通 as a SAML 2.0 identity provider, end to end with a pysaml2 service provider
registered through ``yihaotong clients create --protocol saml --sp-metadata``: single sign-on
over both bindings, signed (and encrypted) assertions, NameIDs, attributes through the app's
claims policy, access policy, single logout, and bad requests answered the SAML way."""

from __future__ import annotations

import asyncio
import base64
import re
import time
import zlib
from urllib.parse import urlencode, urlsplit

import pyotp
import pytest

from tests.gateway.browser import hidden
from tests.gateway.helpers import second_instance
from tests.gateway.saml.conftest import PASSWORD
from tests.gateway.sso import CALLBACK, authorize_url, code_of, exchange

pytest.importorskip("saml2")

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.saml import NAMEID_FORMAT_PERSISTENT, NAMEID_FORMAT_TRANSIENT, NameID
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256


async def _sign_in(world, sp, binding=BINDING_HTTP_REDIRECT, name_id_format=None, **sign):
    """The SP asks, the person signs in; returns the SP's parsed response."""
    request_id, info = sp.login_request(binding, name_id_format, **sign)
    browser = world["browser"]
    if binding == BINDING_HTTP_REDIRECT:
        location = dict(info["headers"])["Location"]
        page = await browser.go(location, username="wang", password=PASSWORD)
    else:
        html = info["data"]
        first = await browser.http.post(
            "/saml/sso",
            data={"SAMLRequest": hidden(html, "SAMLRequest"), "RelayState": "/private/"},
        )
        assert first.status_code == 303, first.text
        page = await browser.go(first.headers["location"], username="wang", password=PASSWORD)
    assert page.status_code == 200, page.text
    assert f'action="{sp.url}/acs"' in page.text
    assert hidden(page.text, "RelayState") == "/private/"
    return sp.accept(hidden(page.text, "SAMLResponse"), request_id)


async def test_single_sign_on_over_redirect_with_a_signed_persistent_pairwise_name_id(
    saml_world,
) -> None:
    sp, _ = await saml_world["service_provider"]("不动产登记")
    response = await _sign_in(saml_world, sp)
    assert response.response.signature is not None  # the Response itself is signed
    assert response.assertion.signature is not None
    assert response.name_id.format == NAMEID_FORMAT_PERSISTENT
    account_id = saml_world["account"].id
    assert response.name_id.text != account_id  # pairwise, not the account's own id
    assert response.ava["name"] == ["王小明"] and response.ava["acr"] == ["L1"]
    # The same person at a second SP is someone else there; at the first, the same again.
    other, _ = await saml_world["service_provider"]("公积金")
    assert (await _sign_in(saml_world, other)).name_id.text != response.name_id.text
    assert (await _sign_in(saml_world, sp)).name_id.text == response.name_id.text


async def test_single_sign_on_over_post_with_a_transient_name_id_and_encryption(
    saml_world,
) -> None:
    sp, _ = await saml_world["service_provider"]("社保", encrypt=True)
    metadata = (await saml_world["browser"].http.get("/saml/metadata")).text
    assert "HTTP-POST" in metadata and "HTTP-Redirect" in metadata
    response = await _sign_in(saml_world, sp, BINDING_HTTP_POST, NAMEID_FORMAT_TRANSIENT)
    assert response.name_id.format == NAMEID_FORMAT_TRANSIENT
    assert "EncryptedAssertion" in str(response.xmlstr)
    assert response.ava["name"] == ["王小明"]


async def test_access_policy_applies_to_saml_apps(saml_world) -> None:
    sp, registered = await saml_world["service_provider"]("内部办公")
    await saml_world["command"](
        "policies", "set", registered["client_id"], "-", stdin='{"kinds": ["staff"]}'
    )
    _request_id, info = sp.login_request(BINDING_HTTP_REDIRECT)
    page = await saml_world["browser"].go(
        dict(info["headers"])["Location"], username="wang", password=PASSWORD
    )
    assert page.status_code == 403 and "SAMLResponse" not in page.text


async def test_step_up_applies_to_saml_apps(saml_world) -> None:
    sp, registered = await saml_world["service_provider"]("公积金")
    account = saml_world["account"]
    async with second_instance(saml_world["live"].settings) as admin:
        secret, _ = await admin.otp.begin(account.id, "wang")
        totp = pyotp.TOTP(secret)
        assert await admin.otp.verify(account.id, totp.at(time.time() - 30), confirming=True)
    await saml_world["command"](
        "policies", "set", registered["client_id"], "-", stdin='{"mfa": true}'
    )
    request_id, info = sp.login_request(BINDING_HTTP_REDIRECT)
    browser = saml_world["browser"]
    page = await browser.go(dict(info["headers"])["Location"], username="wang", password=PASSWORD)
    # Signed in with a password; the app needs a second factor: the code page, then the SP.
    assert page.status_code == 200 and page.request.url.path == "/login/otp"
    answered = await browser.http.post(
        "/login/otp",
        data={
            "tx": hidden(page.text, "tx"),
            "csrf_token": hidden(page.text, "csrf_token"),
            "code": totp.now(),
        },
    )
    page = await browser.go(answered.headers["location"])
    response = sp.accept(hidden(page.text, "SAMLResponse"), request_id)
    assert sorted(response.ava["amr"]) == ["otp", "pwd"]


def _redirect_request(xml: str) -> str:
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
    raw = deflater.compress(xml.encode()) + deflater.flush()
    return "/saml/sso?" + urlencode({"SAMLRequest": base64.b64encode(raw).decode()})


BOMB = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"
  xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="x" Version="2.0"
  IssueInstant="2026-12-07T00:00:00Z"><saml:Issuer>&lol2;</saml:Issuer></samlp:AuthnRequest>"""


async def test_bad_requests_get_saml_errors_never_a_500(saml_world) -> None:
    sp, _ = await saml_world["service_provider"]("不动产登记")
    http = saml_world["browser"].http
    for bad in (
        _redirect_request(BOMB),  # entity expansion refused before anything reads it
        _redirect_request("<not-xml"),
        "/saml/sso?SAMLRequest=%%%",
        "/saml/sso",
    ):
        response = await http.get(bad)
        assert response.status_code == 400, (bad, response.status_code)
    unknown = BOMB.split("<!DOCTYPE")[0] + BOMB.split("]>")[1].replace("&lol2;", "https://x/")
    assert (await http.get(_redirect_request(unknown))).status_code == 400

    # Unsigned where the SP's metadata says it signs: a Requester status to its own ACS.
    _, info = sp.login_request(BINDING_HTTP_REDIRECT, sign=False)
    answer = await http.get(dict(info["headers"])["Location"])
    assert answer.status_code == 200 and f'action="{sp.url}/acs"' in answer.text
    status = base64.b64decode(hidden(answer.text, "SAMLResponse")).decode()
    assert "urn:oasis:names:tc:SAML:2.0:status:Requester" in status

    # Tampered: the signature no longer matches the request.
    _, info = sp.login_request(BINDING_HTTP_REDIRECT)
    location = dict(info["headers"])["Location"]
    tampered = location.replace("RelayState=%2Fprivate%2F", "RelayState=%2Fevil%2F")
    assert tampered != location
    answer = await http.get(tampered)
    assert answer.status_code == 200
    status = base64.b64decode(hidden(answer.text, "SAMLResponse")).decode()
    assert "urn:oasis:names:tc:SAML:2.0:status:Requester" in status


async def test_stale_and_misaddressed_requests_get_a_requester_status(saml_world) -> None:
    sp, _ = await saml_world["service_provider"]("公积金", sign_requests=False)
    http = saml_world["browser"].http
    idp = f"{saml_world['live'].url}/saml/sso"
    for destination, instant in ((idp, "2026-01-01T00:00:00Z"), ("https://elsewhere/sso", None)):
        _, request = sp.client.create_authn_request(destination)
        xml = str(request)
        if instant:
            xml = re.sub(r'IssueInstant="[^"]+"', f'IssueInstant="{instant}"', xml)
        answer = await http.get(_redirect_request(xml))
        assert answer.status_code == 200 and f'action="{sp.url}/acs"' in answer.text
        status = base64.b64decode(hidden(answer.text, "SAMLResponse")).decode()
        assert "urn:oasis:names:tc:SAML:2.0:status:Requester" in status
        assert "Assertion" not in status
    # The same request, current and addressed here, is answered with the sign-in.
    _, request = sp.client.create_authn_request(idp)
    assert (await http.get(_redirect_request(str(request)))).status_code == 303


async def test_single_logout_from_an_oidc_app_reaches_the_saml_app(saml_world) -> None:
    live, browser = saml_world["live"], saml_world["browser"]
    sp, _ = await saml_world["service_provider"]("不动产登记")
    signed_in = await _sign_in(saml_world, sp)
    assert sp.client.is_logged_in(signed_in.name_id)
    async with second_instance(live.settings) as admin:
        tax = await admin.clients.register(
            name="税务服务", redirect_uris=[CALLBACK], post_logout_redirect_uris=[CALLBACK]
        )
    code = code_of(await browser.go(authorize_url(live.url, tax.client.client_id)))
    id_token = (await exchange(live, tax, code)).json()["id_token"]
    logout = await browser.http.get(
        "/oauth/logout", params={"id_token_hint": id_token, "post_logout_redirect_uri": CALLBACK}
    )
    assert logout.status_code == 303
    deadline = time.monotonic() + 20
    while not sp.logouts:
        assert time.monotonic() < deadline, "the SAML app was not logged out"
        await asyncio.sleep(0.2)
    assert sp.logouts[0].name_id.text == signed_in.name_id.text
    assert not sp.client.is_logged_in(signed_in.name_id)
    assert urlsplit(sp.url).hostname == "127.0.0.1"


async def test_logout_at_the_saml_app_loads_the_front_channel_logout_of_oidc_apps(
    saml_world,
) -> None:
    live, browser = saml_world["live"], saml_world["browser"]
    sp, _ = await saml_world["service_provider"]("不动产登记")
    signed_in = await _sign_in(saml_world, sp)
    async with second_instance(live.settings) as admin:
        portal = await admin.clients.register(
            name="市民门户",
            redirect_uris=[CALLBACK],
            frontchannel_logout_uri="https://portal.city.gov.cn/frontchannel",
        )
    code = code_of(await browser.go(authorize_url(live.url, portal.client.client_id)))
    assert (await exchange(live, portal, code)).status_code == 200
    idp = next(iter(sp.client.metadata.identity_providers()))
    _, info = sp.client.global_logout(signed_in.name_id, sign=True, sign_alg=SIG_RSA_SHA256,
                                      digest_alg=DIGEST_SHA256)[idp]  # fmt: skip
    answer = await browser.http.get(dict(info["headers"])["Location"])
    assert answer.status_code == 200 and f'action="{sp.url}/slo"' in answer.text
    frame = re.search(r'<iframe class="frontchannel" src="([^"]+)"', answer.text)
    assert frame, answer.text
    src = frame.group(1).replace("&amp;", "&")
    assert src.startswith("https://portal.city.gov.cn/frontchannel?iss=") and "&sid=" in src
    # The session cookie goes with the session.
    assert "Max-Age=0" in answer.headers["set-cookie"] or "expires=" in answer.headers["set-cookie"]


async def test_logout_at_the_saml_app_ends_the_sso_session(saml_world) -> None:
    sp, _ = await saml_world["service_provider"]("不动产登记")
    signed_in = await _sign_in(saml_world, sp)
    _, info = sp.client.global_logout(signed_in.name_id, sign=True, sign_alg=SIG_RSA_SHA256,
                                      digest_alg=DIGEST_SHA256)[next(iter(
                                          sp.client.metadata.identity_providers()))]  # fmt: skip
    http = saml_world["browser"].http
    answer = await http.get(dict(info["headers"])["Location"])
    assert answer.status_code == 200 and f'action="{sp.url}/slo"' in answer.text
    reply = sp.client.parse_logout_request_response(
        hidden(answer.text, "SAMLResponse"), BINDING_HTTP_POST
    )
    assert reply.status_ok()
    _request_id, info = sp.login_request(BINDING_HTTP_REDIRECT)
    again = await http.get(dict(info["headers"])["Location"])
    assert again.status_code == 303 and again.headers["location"].startswith("/login?tx=")


async def test_a_logout_request_naming_another_subject_keeps_the_session(saml_world) -> None:
    """A LogoutRequest for a NameID this session was not given (sent through the person's
    browser) must not end the person's session."""
    sp, _ = await saml_world["service_provider"]("不动产登记")
    signed_in = await _sign_in(saml_world, sp)
    idp = next(iter(sp.client.metadata.identity_providers()))
    slo = sp.client.metadata.single_logout_service(idp, BINDING_HTTP_REDIRECT, "idpsso")
    other = NameID(format=signed_in.name_id.format, text="someone-else")
    _, request = sp.client.create_logout_request(slo[0]["location"], idp, name_id=other)
    info = sp.client.apply_binding(
        BINDING_HTTP_REDIRECT, str(request), slo[0]["location"], sign=True,
        sigalg=SIG_RSA_SHA256,
    )  # fmt: skip
    http = saml_world["browser"].http
    answer = await http.get(dict(info["headers"])["Location"])
    assert answer.status_code == 200 and f'action="{sp.url}/slo"' in answer.text
    _request_id, info = sp.login_request(BINDING_HTTP_REDIRECT)
    again = await http.get(dict(info["headers"])["Location"])
    assert again.status_code == 200 and f'action="{sp.url}/acs"' in again.text
