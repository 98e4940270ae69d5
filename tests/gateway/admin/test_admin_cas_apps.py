"""CAS apps through the admin API: registered with their service URLs, changed, and refused
with a problem that names the field when a URL is not one the CAS server can match."""

from __future__ import annotations

from tests.gateway.admin.conftest import World
from tests.gateway.admin.test_admin_api import problem


async def test_cas_apps_through_the_admin_api(world: World) -> None:
    async with world.http(world.city_token) as http:
        created = await http.post("/clients", json={
            "client_name": "不动产登记", "protocol": "cas",
            "service_urls": ["https://estate.city.gov.cn/cas/login"],
        })  # fmt: skip
        assert created.status_code == 201, created.text
        app = created.json()
        assert app["protocol"] == "cas" and app["client_secret"] is None
        assert app["grant_types"] == [] and app["cas_v1"] is False
        changed = await http.patch(
            f"/clients/{app['client_id']}",
            json={"service_urls": ["https://estate.city.gov.cn/portal/*"], "cas_v1": True},
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["service_urls"] == ["https://estate.city.gov.cn/portal/*"]
        for body, field in (
            ({"service_urls": ["https://estate.city.gov.cn/(.*)"]}, "service_urls"),
            ({"service_urls": []}, "service_urls"),
            ({"redirect_uris": ["https://estate.city.gov.cn/cb"]}, "grant_types"),
        ):
            refused = problem(await http.patch(f"/clients/{app['client_id']}", json=body), 422)
            assert field in str(refused), refused
        oidc = await http.post("/clients", json={
            "client_name": "x", "redirect_uris": ["https://a.city.gov.cn/cb"],
            "service_urls": ["https://a.city.gov.cn/"],
        })  # fmt: skip
        assert "service_urls" in str(problem(oidc, 422))
        # The protocol is chosen at registration and never changed.
        fixed = await http.patch(f"/clients/{app['client_id']}", json={"protocol": "oidc"})
        assert fixed.status_code in (400, 422)
