"""Request bodies the admin API cannot read are 400 problems, whatever their shape."""

from __future__ import annotations

from tests.gateway.admin.conftest import World
from tests.gateway.admin.test_admin_api import problem

DEEP = b"[" * 50_000
NESTED = b'{"id": "x", "name": ' + b"[" * 40 + b"]" * 40 + b"}"  # valid JSON, too deep
JSON = {"Content-Type": "application/json"}


async def test_deeply_nested_json_is_a_400_on_every_admin_body(world: World) -> None:
    async with world.http(world.city_token) as http:
        for method, path in (
            ("POST", "/departments"),
            ("PATCH", "/departments/east"),
            ("PUT", f"/clients/{world.east_app}/policy"),
            ("POST", "/clients"),
            ("PATCH", f"/accounts/{world.east_person}"),
            ("POST", "/assignments"),
            ("POST", "/groups"),
            ("POST", "/roles"),
        ):
            for body in (DEEP, NESTED, b'["' + b"[" * 50_000 + b'"]'):
                answer = await http.request(method, path, content=body, headers=JSON)
                if body.startswith(b'["'):  # brackets inside a string are only text: a 422
                    problem(answer, 422)
                    continue
                detail = problem(answer, 400)["detail"]
                assert "deeper" in detail, (method, path, detail)
        # The department and the policy are unchanged.
        assert (await http.get("/departments/east")).json()["version"] == 1
        assert (await http.get(f"/clients/{world.east_app}/policy")).status_code == 200
