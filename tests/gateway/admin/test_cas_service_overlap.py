"""A district administrator must not register a CAS service URL that another district's app
already answers for: the CAS server picks the app by the service URL, so the overlapping app's
access policy (and attributes) would stand in for the other district's own."""

from __future__ import annotations

from tests.gateway.admin.conftest import World


async def test_a_district_cannot_take_another_districts_cas_service_urls(world: World) -> None:
    async with world.http(world.city_token) as http:
        west = await http.post("/clients", json={
            "client_name": "西区不动产", "protocol": "cas", "department_id": "west",
            "service_urls": ["https://west.example/app/"],
        })  # fmt: skip
        assert west.status_code == 201, west.text
    async with world.http(world.east_token) as http:
        for urls in (["https://west.example/app/"], ["https://west.example/*"]):
            taken = await http.post("/clients", json={
                "client_name": "东区", "protocol": "cas", "department_id": "east",
                "service_urls": urls,
            })  # fmt: skip
            assert taken.status_code in (403, 409, 422), (urls, taken.status_code)
