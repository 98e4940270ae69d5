"""SAML apps through the admin API: registered with their SP metadata, and refused with a
problem naming ``sp_metadata`` when the document is not one SP's metadata (or is hostile XML)."""

from __future__ import annotations

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
