"""A district administrator must not register a CAS service URL that another district's app
already answers for: the CAS server picks the app by the service URL, so the overlapping app's
access policy (and attributes) would stand in for the other district's own."""

from __future__ import annotations

import httpx

from tests.gateway.admin.conftest import World
from tests.gateway.browser import TLS


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


async def _cas_app(http, department: str, *urls: str) -> dict:
    created = await http.post("/clients", json={
        "client_name": f"{department} 不动产", "protocol": "cas", "department_id": department,
        "service_urls": list(urls),
    })  # fmt: skip
    assert created.status_code == 201, created.text
    return created.json()


async def test_changing_an_app_cannot_take_another_apps_service_urls(world: World) -> None:
    async with world.http(world.city_token) as city:
        await _cas_app(city, "west", "http://127.0.0.1:19996/app/")
    async with world.http(world.east_token) as east:
        own = await _cas_app(east, "east", "https://east.example/app/")
        for urls in (
            ["https://east.example/app/", "http://127.0.0.1:19996/app/"],
            ["https://east.example/app/", "http://127.0.0.1:19996/*"],
            ["http://127.0.0.1:19996/app/?next=/x"],
        ):
            taken = await east.patch(f"/clients/{own['client_id']}", json={"service_urls": urls})
            assert taken.status_code == 409, (urls, taken.text)
            problem = taken.json()
            assert "already registered by another app" in problem["detail"]
            assert "西区" not in taken.text and "west" not in taken.text
        # Nothing was written; the app's own URLs (and new ones of its own) are still fine.
        kept = await east.get(f"/clients/{own['client_id']}")
        assert kept.json()["service_urls"] == ["https://east.example/app/"]
        widened = await east.patch(
            f"/clients/{own['client_id']}",
            json={"service_urls": ["https://east.example/app/", "https://east.example/more/*"]},
        )
        assert widened.status_code == 200, widened.text
    async with world.http(world.city_token) as city:
        # A city-wide administrator is refused too: two apps answering for one service is wrong
        # whoever registers it.
        refused = await city.post("/clients", json={
            "client_name": "市级", "protocol": "cas", "department_id": "city",
            "service_urls": ["https://east.example/*"],
        })  # fmt: skip
        assert refused.status_code == 409, refused.text


async def test_narrowing_an_apps_service_urls_takes_effect_at_once(world: World) -> None:
    async with world.http(world.east_token) as east:
        app = await _cas_app(east, "east", "https://east.example/app/", "https://east.example/old/")
        async with httpx.AsyncClient(base_url=world.live.url, verify=TLS) as http:
            login = await http.get("/cas/login", params={"service": "https://east.example/old/"})
            assert login.status_code == 303, login.text
            narrowed = await east.patch(
                f"/clients/{app['client_id']}", json={"service_urls": ["https://east.example/app/"]}
            )
            assert narrowed.status_code == 200, narrowed.text
            gone = await http.get("/cas/login", params={"service": "https://east.example/old/"})
            assert gone.status_code == 400 and "location" not in gone.headers


async def test_only_city_wide_administrators_let_a_cas_app_proxy(world: World) -> None:
    async with world.http(world.east_token) as east:
        refused = await east.post("/clients", json={
            "client_name": "东区门户", "protocol": "cas", "department_id": "east",
            "service_urls": ["https://portal.east.example/"], "cas_proxy": True,
        })  # fmt: skip
        assert refused.status_code == 403, refused.text
        app = await _cas_app(east, "east", "https://portal.east.example/")
        widened = await east.patch(f"/clients/{app['client_id']}", json={"cas_proxy": True})
        assert widened.status_code == 403, widened.text
    async with world.http(world.city_token) as city:
        granted = await city.patch(f"/clients/{app['client_id']}", json={"cas_proxy": True})
        assert granted.status_code == 200, granted.text


async def test_a_host_with_a_trailing_dot_is_no_way_around_another_districts(world: World) -> None:
    # "west.example." is the same host as "west.example" to DNS and browsers, but another string
    # to the overlap and sector checks: an east app answered for west's CAS service (its tickets
    # validated under east's access policy) and took west's host as its sector.
    async with world.http(world.city_token) as http:
        await _cas_app(http, "west", "https://cas.west.example/app/")
    async with world.http(world.east_token) as http:
        for body in (
            {"protocol": "cas", "service_urls": ["https://cas.west.example./app/"]},
            {"protocol": "cas", "service_urls": ["https://cas.west.example./app/*"]},
            {"redirect_uris": ["https://west.example./cb"]},
            {"redirect_uris": ["https://east.example/cb"], "sector_identifier": "west.example."},
        ):
            taken = await http.post(
                "/clients", json={"client_name": "东区", "department_id": "east", **body}
            )
            assert taken.status_code in (403, 409, 422), (body, taken.status_code)
