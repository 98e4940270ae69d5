"""Malformed, oversized and hostile input at every SAML endpoint (the identity provider's and
a SAML department's), one table: a request that cannot be trusted to name its service
provider gets a page that posts nowhere (a 400), never a 500."""

from __future__ import annotations

import base64
import zlib

import httpx

from tests.support import required

BOMB = (
    '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
    '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
    '<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">&c;'
    "</samlp:LogoutRequest>"
)


def _deflated(xml: str) -> str:
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
    return base64.b64encode(deflater.compress(xml.encode()) + deflater.flush()).decode()


def _posted(xml: str) -> str:
    return base64.b64encode(xml.encode()).decode()


GETS = [
    ("/saml/sso", {"SAMLRequest": "%ff"}),
    ("/saml/sso", {"SAMLRequest": "AAAA", "SigAlg": "x", "Signature": "%%"}),
    ("/saml/sso", {"SAMLRequest": _deflated("<x/>"), "RelayState": "r" * 5000}),
    ("/saml/sso", {"SAMLRequest": _deflated(BOMB.replace("LogoutRequest", "AuthnRequest"))}),
    ("/saml/sso/resume", {"tx": "%ff"}),
    ("/saml/sso/resume", {"tx": "x" * 5000}),
    ("/saml/slo", {"SAMLRequest": "%ff"}),
    ("/saml/slo", {"SAMLRequest": _deflated(BOMB)}),
    ("/saml/slo", {"SAMLRequest": _deflated("<not-xml")}),
]
POSTS = [
    ("/saml/sso", {"SAMLRequest": "%%%"}),
    ("/saml/sso", {"SAMLRequest": _posted(BOMB.replace("LogoutRequest", "AuthnRequest"))}),
    ("/saml/slo", {"SAMLRequest": _posted(BOMB)}),
    ("/saml/slo", {"SAMLRequest": "%%%"}),
    ("/saml/sp/nothing/acs", {"SAMLResponse": _posted("<x/>")}),
    ("/saml/sp/nothing/acs", {"SAMLResponse": _posted(BOMB), "RelayState": "x"}),
]


def _a_page_going_nowhere(response: httpx.Response) -> bool:
    return (
        response.status_code == 400
        and response.headers["content-type"].startswith("text/html")
        and "location" not in response.headers
        and "SAMLResponse" not in response.text
    )


async def test_bad_input_gets_a_page_never_a_500(live_server) -> None:
    from gateway.saml.idp import available

    required(available(), "pysaml2 and xmlsec1 (pip install '.[saml]')")
    wrong = []
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as http:
        for path, params in GETS:
            response = await http.get(path, params=params)
            if not _a_page_going_nowhere(response):
                wrong.append((path, str(params)[:60], response.status_code, response.text[:200]))
        for path, data in POSTS:
            response = await http.post(path, data=data)
            if not _a_page_going_nowhere(response):
                wrong.append((path, str(data)[:60], response.status_code, response.text[:200]))
        raw = await http.post(
            "/saml/sso",
            content=b"\xff\xfe" * 10,
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        if not _a_page_going_nowhere(raw):
            wrong.append(("/saml/sso", "raw bytes", raw.status_code, raw.text[:200]))
        for path, status in (("/saml/sp/nothing/metadata", 404), ("/saml/metadata", 405)):
            response = await http.request("GET" if status == 404 else "POST", path)
            if response.status_code != status:
                wrong.append((path, "", response.status_code, response.text[:200]))
    assert wrong == []
