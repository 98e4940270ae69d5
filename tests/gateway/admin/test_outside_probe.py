"""What an outside review found by attacking the running gateway as a hostile district
administrator, app owner and citizen would (real HTTP against a live gateway, both backends)."""

from __future__ import annotations

import asyncio
import time

from tests.gateway.admin.conftest import World
from tests.gateway.admin.test_admin_api import problem

JSON = {"Content-Type": "application/json"}


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
