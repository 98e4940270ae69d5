"""What an outside review found by attacking the running gateway as a hostile district
administrator, app owner and citizen would (real HTTP against a live gateway, both backends)."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlencode

from tests.gateway.admin.conftest import PASSWORD, World
from tests.gateway.admin.test_admin_api import problem
from tests.gateway.browser import Browser

JSON = {"Content-Type": "application/json"}
CITY_CALLBACK = "https://audit.city.example/cb"


async def test_a_body_of_escaped_quotes_costs_no_more_than_its_size(world: World) -> None:
    # An unterminated string of escaped quotes made the nesting check quadratic: 48 KiB held
    # the event loop (every sign-in) for about ten seconds, 256 KiB for minutes.
    body = b'"' + b'\\"' * 24_000
    async with world.http(world.east_token) as http:
        started = time.monotonic()
        answer = await http.post("/departments", content=body, headers=JSON)
        took = time.monotonic() - started
    problem(answer, 400)
    assert took < 2, f"{took:.1f} s for a {len(body)}-byte body"


async def test_two_crossed_moves_never_make_a_cycle_of_departments(world: World) -> None:
    # Each move checked "not below itself" against what it read before the other committed:
    # a under b and b under a at once both succeeded, leaving a cycle with paths such as
    # /city/east/a/b/a that no one can delete.
    async with world.http(world.east_token) as http:
        for i in range(4):
            a, b = f"cross-a{i}", f"cross-b{i}"
            for department in (a, b):
                created = await http.post(
                    "/departments", json={"id": department, "name": "处", "parent_id": "east"}
                )
                assert created.status_code == 201, created.text
            moves = await asyncio.gather(
                http.patch(f"/departments/{a}", json={"parent_id": b}),
                http.patch(f"/departments/{b}", json={"parent_id": a}),
            )
            # One goes first; the other would put a department below itself.
            assert sorted(m.status_code for m in moves) == [200, 409], [m.text for m in moves]
            found = {d: (await http.get(f"/departments/{d}")).json() for d in (a, b)}
            assert not (found[a]["parent_id"] == b and found[b]["parent_id"] == a), found
            for department in found.values():
                parent = (await http.get(f"/departments/{department['parent_id']}")).json()
                assert department["path"] == f"{parent['path']}/{department['id']}", found


async def _reaches_city_app(world: World, policy: dict, squat: list[tuple[str, str, dict]]) -> bool:
    """Whether the east person reaches a city-wide app (no department) whose policy names
    something that does not exist yet, once the east administrator has made it in its district
    (False as soon as any step is refused)."""
    async with world.http(world.city_token) as city, world.http(world.east_token) as east:
        made = await city.post(
            "/clients", json={"client_name": "市级审计", "redirect_uris": [CITY_CALLBACK]}
        )
        assert made.status_code == 201, made.text
        client_id = made.json()["client_id"]
        if (await city.put(f"/clients/{client_id}/policy", json=policy)).status_code != 200:
            return False  # a policy may not name what does not exist
        for method, path, body in squat:
            answer = await east.request(method, path, json=body or None)
            if answer.status_code >= 400:
                return False
    browser = Browser(world.live.url)
    try:
        params = {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": CITY_CALLBACK,
            "scope": "openid",
            "state": "s",
        }
        arrival = await browser.go(
            f"{world.live.url}/oauth/authorize?{urlencode(params)}",
            username="east-person",
            password=PASSWORD,
        )
    finally:
        await browser.close()
    return arrival.status_code == 303 and "code=" in arrival.headers.get("location", "")


async def test_a_district_cannot_squat_a_group_a_city_wide_app_names(world: World) -> None:
    squat = [
        ("POST", "/groups", {"id": "city-auditors", "name": "审计", "department_id": "east"}),
        ("PUT", f"/groups/city-auditors/members/{world.east_person}", {}),
    ]
    assert not await _reaches_city_app(world, {"groups": ["city-auditors"]}, squat)


async def test_a_district_cannot_squat_a_department_a_city_wide_app_names(world: World) -> None:
    squat = [
        ("POST", "/departments", {"id": "tax-bureau", "name": "税务局", "parent_id": "east"}),
        ("PATCH", f"/accounts/{world.east_person}", {"department_id": "tax-bureau"}),
    ]
    assert not await _reaches_city_app(world, {"departments": ["tax-bureau"]}, squat)


async def test_a_district_app_cannot_claim_another_apps_pairwise_sector(world: World) -> None:
    async with world.http(world.city_token) as city, world.http(world.east_token) as east:
        west = await city.post(
            "/clients",
            json={
                "client_name": "西区医保",
                "redirect_uris": ["https://clinic.west.example/cb"],
                "subject_type": "pairwise",
                "department_id": "west",
            },
        )
        assert west.status_code == 201, west.text
        copied = await east.post(
            "/clients",
            json={
                "client_name": "东区应用",
                "redirect_uris": ["https://east.example/other"],
                "subject_type": "pairwise",
                "sector_identifier": "clinic.west.example",
                "department_id": "east",
            },
        )
    assert copied.status_code in (403, 422), copied.text
