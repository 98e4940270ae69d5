"""SAML apps through the admin API: registered with their SP metadata, and refused with a
problem naming ``sp_metadata`` when the document is not one SP's metadata (or is hostile XML)."""

from __future__ import annotations

import sys

from tests.gateway.admin.conftest import World
from tests.gateway.admin.test_admin_api import problem

MD = "urn:oasis:names:tc:SAML:2.0:metadata"
SP = f"""<md:EntityDescriptor xmlns:md="{MD}" entityID="https://estate.city.gov.cn/sp">
  <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:AssertionConsumerService index="0" Location="https://estate.city.gov.cn/acs"
      Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>"""
BOMB = """<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="&b;"/>"""


async def test_saml_apps_through_the_admin_api(world: World) -> None:
    async with world.http(world.city_token) as http:
        created = await http.post(
            "/clients", json={"client_name": "不动产登记", "protocol": "saml", "sp_metadata": SP}
        )
        assert created.status_code == 201, created.text
        app = created.json()
        assert app["protocol"] == "saml" and app["client_secret"] is None
        assert app["grant_types"] == [] and "estate.city.gov.cn/sp" in app["sp_metadata"]
        for body in (
            {"sp_metadata": BOMB},
            {"sp_metadata": "<not xml"},
            {"sp_metadata": SP.replace("SPSSODescriptor", "IDPSSODescriptor")},
            {"sp_metadata": SP.replace("AssertionConsumerService", "ArtifactResolutionService")},
        ):
            refused = problem(await http.patch(f"/clients/{app['client_id']}", json=body), 422)
            assert "sp_metadata" in str(refused), refused
        missing = await http.post("/clients", json={"client_name": "x", "protocol": "saml"})
        assert "sp_metadata" in str(problem(missing, 422))
        oidc = await http.post("/clients", json={
            "client_name": "x", "redirect_uris": ["https://a.city.gov.cn/cb"], "sp_metadata": SP,
        })  # fmt: skip
        assert "sp_metadata" in str(problem(oidc, 422))


async def test_one_service_provider_is_one_app(world: World) -> None:
    """A district administrator cannot register another app for an SP that an app already
    answers for: the SP's requests would then be answered under that app's access policy."""
    async with world.http(world.city_token) as http:
        created = await http.post(
            "/clients", json={"client_name": "不动产登记", "protocol": "saml", "sp_metadata": SP}
        )
        assert created.status_code == 201, created.text
        other = await http.post(
            "/clients", json={"client_name": "别的", "protocol": "saml", "sp_metadata": SP.replace(
                "estate.city.gov.cn/sp", "other.city.gov.cn/sp")},
        )  # fmt: skip
        assert other.status_code == 201, other.text
        moved = await http.patch(
            f"/clients/{other.json()['client_id']}",
            json={"sp_metadata": SP},
            headers={"If-Match": other.headers.get("etag", "*")},
        )
        assert "already registered" in str(problem(moved, 422))
    async with world.http(world.east_token) as http:
        copied = await http.post("/clients", json={
            "client_name": "东区的副本", "protocol": "saml", "sp_metadata": SP,
            "department_id": "east-tax",
        })  # fmt: skip
        assert "already registered" in str(problem(copied, 422))


async def test_without_the_saml_extra_registering_is_refused_not_a_500(world, monkeypatch) -> None:
    # defusedxml is what reads SP metadata: as if it were not installed.
    monkeypatch.setitem(sys.modules, "defusedxml", None)
    monkeypatch.setitem(sys.modules, "defusedxml.ElementTree", None)
    async with world.http(world.city_token) as http:
        refused = await http.post(
            "/clients", json={"client_name": "不动产登记", "protocol": "saml", "sp_metadata": SP}
        )
    assert "pip install 'yihaotong[saml]'" in str(problem(refused, 422))


async def test_the_sps_endpoints_are_https_or_loopback_as_redirect_uris_are(world: World) -> None:
    # The gateway posts assertions to the ACS the metadata names, and logout requests to its
    # SingleLogoutService: a plain-http host read them on the wire, a trailing-dot host passed
    # every check that compares hosts.
    acs = 'Location="https://estate.city.gov.cn/acs"'
    slo = (
        '<md:SingleLogoutService Location="{}" '
        'Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"/>\n    '
    )
    async with world.http(world.east_token) as http:
        for document in (
            SP.replace(acs, 'Location="http://estate.city.gov.cn/acs"'),
            SP.replace(acs, 'Location="https://estate.city.gov.cn./acs"'),
            SP.replace(acs, 'Location="javascript:alert(1)"'),
            SP.replace(
                "<md:Assertion", slo.format("http://estate.city.gov.cn/slo") + "<md:Assertion"
            ),
        ):
            refused = await http.post("/clients", json={
                "client_name": "不动产", "protocol": "saml", "sp_metadata": document,
                "department_id": "east-tax",
            })  # fmt: skip
            assert "sp_metadata" in str(problem(refused, 422)), document
        loopback = SP.replace(acs, 'Location="http://127.0.0.1:8443/acs"')
        made = await http.post("/clients", json={
            "client_name": "不动产", "protocol": "saml", "sp_metadata": loopback,
            "department_id": "east-tax",
        })  # fmt: skip
        assert made.status_code == 201, made.text
