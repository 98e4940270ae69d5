"""Department APIs as resources through the admin API: city-wide administrators register,
list and remove them (audited); a district administrator cannot; bad input is a problem."""

from __future__ import annotations

from store import audit as audit_store
from tests.gateway.admin.conftest import World
from tests.gateway.admin.test_admin_api import problem
from tests.gateway.helpers import second_instance

TAX = "https://api.tax.city.gov.cn/"


async def test_city_wide_administrators_manage_resources(world: World) -> None:
    body = {"audience": TAX, "scopes": ["tax.read"], "allowed_clients": [world.east_app]}
    async with world.http(world.east_token) as east:
        problem(await east.post("/resources", json=body), 403)
        problem(await east.get("/resources"), 403)
    async with world.http(world.city_token) as city:
        created = await city.post("/resources", json=body)
        assert created.status_code == 201, created.text
        assert created.json()["allowed_clients"] == [world.east_app]
        assert created.json()["access_token_format"] == "jwt"
        problem(await city.post("/resources", json=body), 409)
        bad = problem(
            await city.post(
                "/resources", json={"audience": "https://x.example/#a", "scopes": ["a"]}
            ),
            422,
        )
        assert bad["errors"][0]["loc"] == ["body", "audience"]
        unknown_client = {
            "audience": "https://y.example/",
            "scopes": ["a"],
            "allowed_clients": ["x"],
        }
        problem(await city.post("/resources", json=unknown_client), 422)
        problem(await city.post("/resources", json={"audience": "https://z.example/"}), 422)
        listed = (await city.get("/resources")).json()["items"]
        assert [r["audience"] for r in listed] == [TAX]
        assert (await city.delete("/resources", params={"audience": TAX})).status_code == 204
        problem(await city.delete("/resources", params={"audience": TAX}), 404)
        problem(await city.delete("/resources"), 422)
        assert (await city.get("/resources")).json()["items"] == []
    async with (
        second_instance(world.live.settings) as services,
        services.database.sessions() as session,
    ):
        events = await audit_store.query(session, 0, 10, target=TAX)
    assert {e.event for e in events} == {"admin.resource.created", "admin.resource.deleted"}
