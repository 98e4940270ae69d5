"""What an access policy names (departments, groups, roles) exists when it is written and stays
while it is named, so no district can create a name a city-wide app's policy waits for; and an
app's owner chooses no pairwise sector but its own redirect host."""

from __future__ import annotations

import asyncio

from gateway.admin import apps, org
from gateway.admin.changes import CLI
from gateway.admin.reach import Reach
from gateway.identity.client_policy import PolicyDocument
from store import client_policies, organisation
from tests.gateway.admin.conftest import World
from tests.gateway.admin.test_admin_api import problem
from tests.gateway.helpers import second_instance

CITY_APP = {"client_name": "市级审计", "redirect_uris": ["https://audit.city.example/cb"]}


async def _city_app(world: World) -> str:
    async with world.http(world.city_token) as city:
        made = await city.post("/clients", json=CITY_APP)
    assert made.status_code == 201, made.text
    return made.json()["client_id"]


async def test_a_policy_names_only_what_exists_inside_the_writers_reach(world: World) -> None:
    city_app = await _city_app(world)
    async with world.http(world.city_token) as city, world.http(world.east_token) as east:
        wanted = {
            "departments": ["east", "nowhere"],
            "groups": ["ghosts"],
            "roles": ["phantom"],
            "claims": {"global_roles": ["spectre"]},
        }
        body = problem(await city.put(f"/clients/{city_app}/policy", json=wanted), 422)
        assert {(e["field"], e["message"].split("'")[1]) for e in body["errors"]} == {
            ("body.departments.1", "nowhere"),
            ("body.groups.0", "ghosts"),
            ("body.roles.0", "phantom"),
            ("body.claims.global_roles.0", "spectre"),
        }
        assert (await city.get(f"/clients/{city_app}/policy")).json()["version"] == 0
        # A district names only its own departments and groups; one elsewhere reads as unknown.
        made = await city.post(
            "/groups", json={"id": "west-desk", "name": "窗口", "department_id": "west"}
        )
        assert made.status_code == 201, made.text
        for elsewhere in ({"departments": ["west"]}, {"groups": ["west-desk"]}):
            body = problem(await east.put(f"/clients/{world.east_app}/policy", json=elsewhere), 422)
            assert "you administer" in body["errors"][0]["message"]
        own = await east.post(
            "/groups", json={"id": "east-desk", "name": "窗口", "department_id": "east"}
        )
        assert own.status_code == 201, own.text
        fine = {"departments": ["east-tax"], "groups": ["east-desk"]}
        assert (await east.put(f"/clients/{world.east_app}/policy", json=fine)).status_code == 200


async def test_what_a_policy_names_cannot_be_deleted_until_the_policy_lets_go(world: World) -> None:
    city_app = await _city_app(world)
    async with world.http(world.city_token) as city, world.http(world.east_token) as east:
        for path, body in (
            ("/departments", {"id": "audit-office", "name": "审计处", "parent_id": "east"}),
            ("/groups", {"id": "auditors", "name": "审计", "department_id": "east"}),
        ):
            assert (await east.post(path, json=body)).status_code == 201
        named = {"departments": ["audit-office"], "groups": ["auditors"]}
        assert (await city.put(f"/clients/{city_app}/policy", json=named)).status_code == 200
        for path in ("/groups/auditors", "/departments/audit-office"):
            for admin in (east, city):
                body = problem(await admin.delete(path), 409)
                assert city_app in body["detail"] and body["errors"][0]["loc"][0] == "path"
        assert (await east.get("/groups/auditors")).status_code == 200
        assert (await city.put(f"/clients/{city_app}/policy", json={})).status_code == 200
        for path in ("/groups/auditors", "/departments/audit-office"):
            assert (await east.delete(path)).status_code == 204


async def test_a_name_an_older_policy_waits_for_is_created_city_wide_only(world: World) -> None:
    city_app = await _city_app(world)
    # A policy written before names were checked.
    document = {"groups": ["city-auditors"], "departments": ["tax-bureau"]}
    async with second_instance(world.live.settings) as services:
        session_of = services.database.transaction()
        async with session_of as session:
            await client_policies.put_policy(session, city_app, document, None, 0.0)
    async with world.http(world.city_token) as city, world.http(world.east_token) as east:
        group = {"id": "city-auditors", "name": "审计", "department_id": "east"}
        department = {"id": "tax-bureau", "name": "税务局", "parent_id": "east"}
        for path, body in (("/groups", group), ("/departments", department)):
            assert city_app in problem(await east.post(path, json=body), 409)["detail"]
            assert (await city.post(path, json=body)).status_code == 201


async def test_a_policy_write_and_a_delete_never_pass_each_other(world: World) -> None:
    """Either the delete sees the policy (409) or the policy sees no group (422): a policy
    naming a deleted group would let the next group of that id in."""
    city_app = await _city_app(world)
    everywhere = Reach.everywhere()
    async with second_instance(world.live.settings) as services:
        for round_ in range(6):
            group = f"race-{round_}"
            await org.create_group(services, CLI, everywhere, group, "组", "east")
            document = PolicyDocument(groups=[group])
            outcomes = await asyncio.gather(
                apps.put_policy(services, CLI, everywhere, city_app, document),
                org.delete_group(services, CLI, everywhere, group),
                return_exceptions=True,
            )
            failed = [type(o).__name__ for o in outcomes if isinstance(o, BaseException)]
            assert failed in (["Invalid"], ["Clash"]), outcomes
            async with services.database.sessions() as session:
                stored = await client_policies.get_policy(session, city_app)
                assert stored is not None
                exists = await organisation.group_departments(session, [group])
            assert (group in stored.document["groups"]) == (group in exists), round_
            await apps.put_policy(services, CLI, everywhere, city_app, PolicyDocument())


async def test_an_app_owner_sets_no_pairwise_sector_but_its_own_redirect_host(world: World) -> None:
    pairwise = {"subject_type": "pairwise", "department_id": "east", "client_name": "东区应用"}
    async with world.http(world.city_token) as city, world.http(world.east_token) as east:
        two_hosts = ["https://a.east.example/cb", "https://clinic.west.example/cb"]
        for uris, sector in (
            (two_hosts, "clinic.west.example"),  # one of its hosts, but not the only one
            (two_hosts, "a.east.example"),
            (["http://127.0.0.1/cb"], "127.0.0.1"),  # every native app's loopback host
        ):
            body = {**pairwise, "redirect_uris": uris, "sector_identifier": sector}
            refused = problem(await east.post("/clients", json=body), 422)
            assert refused["errors"][0]["field"] == "body.sector_identifier", refused
        own = {**pairwise, "redirect_uris": ["https://a.east.example/cb"]}
        made = await east.post("/clients", json={**own, "sector_identifier": "a.east.example"})
        assert made.status_code == 201, made.text
        client_id = made.json()["client_id"]
        # A redirect host added later would take the sector with it to another site.
        grown = await east.patch(f"/clients/{client_id}", json={"redirect_uris": two_hosts})
        assert problem(grown, 422)["errors"][0]["field"] == "body.sector_identifier"
        moved = await east.patch(f"/clients/{client_id}", json={"sector_identifier": "b.example"})
        problem(moved, 422)
        # A city-wide administrator may join several hosts into one sector.
        joined = {**pairwise, "redirect_uris": two_hosts, "sector_identifier": "a.east.example"}
        assert (await city.post("/clients", json=joined)).status_code == 201
        # Renaming an app whose sector the city set is still the owner's to do.
        city_set = (await city.post("/clients", json=joined)).json()["client_id"]
        renamed = await east.patch(f"/clients/{city_set}", json={"client_name": "新名"})
        assert renamed.status_code == 200, renamed.text
