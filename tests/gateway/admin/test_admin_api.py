"""The admin REST API on a live gateway (both backends): who may see and change what, ETags,
problem documents and the audit entries of changes."""

from __future__ import annotations

import asyncio
import json

import httpx

from gateway.admin.reach import Reach
from store import audit as audit_store
from store import client_policies
from store.clients import get_client
from tests.gateway.admin.conftest import ADMIN_SCOPE, World, sign_in_token
from tests.gateway.helpers import second_instance

PROBLEM = "application/problem+json"


def problem(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status and body["type"].startswith("urn:yihaotong:problem:")
    assert body["title"] and body["detail"]
    assert "Traceback" not in response.text
    return body


async def test_a_department_admin_cannot_see_or_change_another_departments_client(
    world: World,
) -> None:
    async with world.http(world.east_token) as east:
        listed = (await east.get("/clients")).json()
        assert [c["client_id"] for c in listed["items"]] == [world.east_app]
        assert listed["total"] == 1
        assert (await east.get(f"/clients/{world.east_app}")).status_code == 200

        west = f"/clients/{world.west_app}"
        problem(await east.get(west), 404)
        problem(await east.patch(west, json={"client_name": "taken over"}), 404)
        problem(await east.put(f"{west}/policy", json={"min_acr": "L3"}), 404)
        problem(await east.get(f"{west}/policy"), 404)
        problem(await east.post(f"{west}/secret"), 404)
        problem(await east.delete(west), 404)
        # An app cannot be moved into (or created in) a department outside the admin's subtree.
        moved = await east.patch(f"/clients/{world.east_app}", json={"department_id": "west"})
        assert problem(moved, 422)["errors"][0]["field"] == "body.department_id"
        created = await east.post(
            "/clients", json={"client_name": "x", "redirect_uris": ["https://x.example/cb"]}
        )
        problem(created, 422)
        # The same for roles of that app, accounts and departments of the other district.
        problem(await east.post("/roles", json={"name": "r", "client_id": world.west_app}), 422)
        problem(await east.get(f"/accounts/{world.west_person}"), 404)
        problem(await east.patch(f"/accounts/{world.west_person}", json={"disabled": True}), 404)
        problem(await east.get("/departments/west"), 404)
        problem(await east.delete("/departments/west"), 404)
        # City-wide matters are not the district's.
        problem(await east.get("/audit"), 403)
        problem(await east.get("/keys"), 403)
        problem(await east.post("/roles", json={"name": "global-thing"}), 403)

    async with second_instance(world.live.settings) as services:
        async with services.database.sessions() as session:
            west = await get_client(session, world.west_app)
            policy = await client_policies.get_policy(session, world.west_app)
            events = await audit_store.query(
                session, event="admin.", actor=world.east_admin, limit=50
            )
        person = await services.accounts.get(world.west_person)
        departments, _ = await admin_departments(services)
    assert west is not None and west.name == "西区医保" and west.department_id == "west"
    assert policy is None
    assert person is not None and not person.disabled
    assert "west" in departments
    # Nothing was changed, so nothing but the refusals was recorded.
    assert {e.event for e in events} == {"admin.denied"}


async def admin_departments(services: object) -> tuple[list[str], int]:
    from gateway.admin import org

    found, total = await org.list_departments(services, Reach.everywhere(), 0, 100)  # type: ignore[arg-type]
    return [d.id for d in found], total


async def test_two_edits_with_one_etag_exactly_one_wins(world: World) -> None:
    async with world.http(world.city_token) as http:
        for path, changes in (
            (f"/clients/{world.east_app}", ({"client_name": "A"}, {"client_name": "B"})),
            ("/departments/east", ({"name": "东区一"}, {"name": "东区二"})),
            (f"/clients/{world.east_app}/policy", ({"min_acr": "L2"}, {"min_acr": "L3"})),
        ):
            read = await http.get(path)
            etag = read.headers["etag"]
            method = http.put if path.endswith("/policy") else http.patch
            answers = await asyncio.gather(
                *(method(path, json=body, headers={"If-Match": etag}) for body in changes)
            )
            assert sorted(a.status_code for a in answers) == [200, 412], [a.text for a in answers]
            winner = next(a for a in answers if a.status_code == 200)
            problem(next(a for a in answers if a.status_code == 412), 412)
            assert winner.headers["etag"] != etag
            now = await http.get(path)
            assert now.headers["etag"] == winner.headers["etag"]
            assert now.json() == winner.json()
            # A stale tag changes nothing; the current one works; so does no tag at all.
            problem(await method(path, json=changes[0], headers={"If-Match": etag}), 412)
            assert (await http.get(path)).json() == winner.json()
            fresh = await method(path, json=changes[0], headers={"If-Match": now.headers["etag"]})
            assert fresh.status_code == 200
        stale = (await http.get("/departments/east-tax")).headers["etag"]
        assert (await http.patch("/departments/east-tax", json={"name": "税务"})).status_code == 200
        problem(await http.delete("/departments/east-tax", headers={"If-Match": stale}), 412)
        assert (await http.get("/departments/east-tax")).status_code == 200


async def test_changes_are_audited_with_actor_diff_and_masked_pii(world: World) -> None:
    async with world.http(world.east_token) as http:
        read = await http.get(f"/accounts/{world.east_person}")
        assert read.json()["department_id"] == "east-tax"
        moved = await http.patch(
            f"/accounts/{world.east_person}",
            json={"department_id": "east"},
            headers={"If-Match": read.headers["etag"]},
        )
        assert moved.status_code == 200 and moved.json()["department_id"] == "east"
        created = await http.post(
            "/clients",
            json={
                "client_name": "东区公积金",
                "redirect_uris": ["https://fund.example/cb"],
                "department_id": "east",
            },
        )
        assert created.status_code == 201 and created.json()["client_secret"]
    async with second_instance(world.live.settings) as services:
        events = await services.audit.query(event="admin.", actor=world.east_admin)
    by_event = {e.event: e for e in events}
    account = by_event["admin.account.updated"]
    assert account.target == world.east_person
    assert account.client_id == world.admin_client.client.client_id
    assert account.ip == "127.0.0.1" and account.request_id
    assert account.details["before"]["department_id"] == "east-tax"
    assert account.details["after"]["department_id"] == "east"
    assert "east-person" not in json.dumps(account.details)  # the username is masked
    assert account.details["username"].startswith("ea") and "*" in account.details["username"]
    client = by_event["admin.client.created"]
    assert set(client.details["before"].values()) == {None}
    assert client.details["after"]["department_id"] == "east"
    text = json.dumps(client.details)
    assert "secret_digest" not in text and created.json()["client_secret"] not in text


async def test_missing_invalid_and_insufficient_tokens(world: World) -> None:
    async with world.http(None) as anonymous:
        answer = await anonymous.get("/clients")
        problem(answer, 401)
        assert answer.headers["www-authenticate"].startswith("Bearer")
    async with world.http("not.a.token") as garbage:
        answer = await garbage.get("/clients")
        problem(answer, 401)
        assert 'error="invalid_token"' in answer.headers["www-authenticate"]
    # A token with admin:read only may read but not write.
    reader = await sign_in_token(world.live, world.admin_client, "root", "openid admin:read")
    async with world.http(reader) as http:
        assert (await http.get("/clients")).status_code == 200
        answer = await http.patch(f"/clients/{world.east_app}", json={"client_name": "x"})
        problem(answer, 403)
        assert 'error="insufficient_scope"' in answer.headers["www-authenticate"]
        assert 'scope="admin:write"' in answer.headers["www-authenticate"]
    # The scope is not enough: the account must hold the admin role now.
    person = await sign_in_token(world.live, world.admin_client, "west-person", ADMIN_SCOPE)
    async with world.http(person) as http:
        answer = await http.get("/clients")
        problem(answer, 403)
        assert 'error="insufficient_scope"' in answer.headers["www-authenticate"]
    async with world.http(world.city_token) as city:
        held = await city.get("/assignments", params={"account_id": world.east_admin})
        for assignment in held.json()["items"]:
            assert (await city.delete(f"/assignments/{assignment['id']}")).status_code == 204
    async with world.http(world.east_token) as east:
        problem(await east.get("/clients"), 403)
    # Ending the admin's sessions ends its token too (it carries the session's sid).
    async with world.http(world.city_token) as city:
        ended = await city.delete(f"/accounts/{world.city_admin}/sessions")
        assert ended.status_code == 200 and ended.json()["count"] >= 1
        problem(await city.get("/clients"), 401)


async def test_malformed_and_invalid_requests_are_problems_naming_the_field(world: World) -> None:
    async with world.http(world.city_token) as http:
        answer = await http.post("/departments", json={"id": "Not OK", "name": "", "parent_id": 1})
        body = problem(answer, 422)
        fields = {e["field"] for e in body["errors"]}
        assert {"body.id", "body.name", "body.parent_id"} <= fields
        assert all(e["loc"][0] == "body" for e in body["errors"])
        unknown = problem(
            await http.post("/departments", json={"id": "a", "name": "A", "x": 1}), 422
        )
        assert unknown["errors"][0]["loc"] == ["body", "x"]
        problem(
            await http.post(
                "/departments", content=b'{"id": ', headers={"content-type": "application/json"}
            ),
            400,
        )
        problem(
            await http.post(
                "/departments",
                content=b"id=a",
                headers={"content-type": "application/x-www-form-urlencoded"},
            ),
            415,
        )
        limit = problem(await http.get("/clients", params={"limit": 201}), 422)
        assert limit["errors"][0]["field"] == "query.limit"
        policy = problem(
            await http.put(f"/clients/{world.east_app}/policy", json={"min_acr": "L9"}), 422
        )
        assert policy["errors"][0]["loc"] == ["body", "min_acr"]
        problem(await http.get("/no/such/thing"), 404)
        problem(await http.put("/clients"), 405)
        problem(await http.delete("/departments/east"), 409)  # it has a department below
        problem(
            await http.post(
                "/clients",
                json={"client_name": "x", "grant_types": ["authorization_code"]},
            ),
            422,
        )
        native = problem(
            await http.post(
                "/clients",
                json={
                    "client_name": "x",
                    "public": True,
                    "redirect_uris": ["http://localhost:8080/cb"],
                },
            ),
            422,
        )
        assert "RFC 8252" in str(native)


async def test_disabling_an_account_ends_its_sessions(world: World) -> None:
    token = await sign_in_token(world.live, world.admin_client, "east-person", "openid")
    async with httpx.AsyncClient(base_url=world.live.url) as plain:
        assert (
            await plain.get("/oauth/userinfo", headers={"Authorization": f"Bearer {token}"})
        ).status_code == 200
    async with world.http(world.east_token) as http:
        sessions = (await http.get(f"/accounts/{world.east_person}/sessions")).json()["items"]
        assert len(sessions) == 1 and sessions[0]["clients"] == [
            world.admin_client.client.client_id
        ]
        disabled = await http.patch(f"/accounts/{world.east_person}", json={"disabled": True})
        assert disabled.status_code == 200 and disabled.json()["disabled"] is True
        assert (await http.get(f"/accounts/{world.east_person}/sessions")).json()["items"] == []
        listed = await http.get("/accounts", params={"disabled": "true"})
        assert [a["id"] for a in listed.json()["items"]] == [world.east_person]
        assert (await http.post(f"/accounts/{world.east_person}/unlock")).status_code == 204
    async with httpx.AsyncClient(base_url=world.live.url) as plain:
        assert (
            await plain.get("/oauth/userinfo", headers={"Authorization": f"Bearer {token}"})
        ).status_code == 401


async def client_credentials_answer(world: World, client_id: str, secret: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=world.live.url) as plain:
        return await plain.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
        )


async def test_client_secret_rotation_is_shown_once_and_replaces_the_old(world: World) -> None:
    async def client_credentials(client_id: str, secret: str) -> int:
        return (await client_credentials_answer(world, client_id, secret)).status_code

    async with world.http(world.east_token) as http:
        created = await http.post(
            "/clients",
            json={
                "client_name": "东区数据",
                "grant_types": ["client_credentials"],
                "scopes": ["data.read"],
                "department_id": "east",
            },
        )
        assert created.status_code == 201, created.text
        client_id, first = created.json()["client_id"], created.json()["client_secret"]
        assert "client_secret" not in (await http.get(f"/clients/{client_id}")).json()
        assert await client_credentials(client_id, first) == 200
        rotated = await http.post(f"/clients/{client_id}/secret")
        assert rotated.status_code == 200
        second = rotated.json()["client_secret"]
        assert second != first
        assert await client_credentials(client_id, first) == 401
        assert await client_credentials(client_id, second) == 200
        deleted = await http.delete(
            f"/clients/{client_id}", headers={"If-Match": rotated.headers["etag"]}
        )
        assert deleted.status_code == 204
        problem(await http.get(f"/clients/{client_id}"), 404)
        assert await client_credentials(client_id, second) == 401


async def test_roles_and_assignments_inside_a_subtree(world: World) -> None:
    async with world.http(world.east_token) as east:
        role = await east.post(
            "/roles", json={"name": "clerk", "client_id": world.east_app, "description": "办事"}
        )
        assert role.status_code == 201, role.text
        role_id = role.json()["id"]
        granted = await east.post(
            "/assignments",
            json={
                "account_id": world.east_person,
                "role_id": role_id,
                "department_id": "east-tax",
                "expires_at": "2099-01-01T00:00:00+08:00",
            },
        )
        assert granted.status_code == 201, granted.text
        assert granted.json()["expires_at"].startswith("2098-12-31T16:00:00")
        # Not to someone of another district, nor everywhere, nor in the past.
        for body, field in (
            ({"account_id": world.west_person, "department_id": "east"}, "body.account_id"),
            ({"account_id": world.east_person, "department_id": None}, "body.department_id"),
            ({"account_id": world.east_person, "department_id": "west"}, "body.department_id"),
            (
                {
                    "account_id": world.east_person,
                    "department_id": "east",
                    "expires_at": "2001-01-01T00:00:00Z",
                },
                "body.expires_at",
            ),
        ):
            answer = await east.post("/assignments", json={"role_id": role_id, **body})
            assert problem(answer, 422)["errors"][0]["field"] == field
        # A district admin hands on admin rights only inside its own subtree.
        admin_roles = await east.get("/roles", params={"scope": "global"})
        write = next(r for r in admin_roles.json()["items"] if r["name"] == "admin:write")
        problem(
            await east.post(
                "/assignments",
                json={
                    "account_id": world.east_person,
                    "role_id": write["id"],
                    "department_id": "city",
                },
            ),
            422,
        )
        delegated = await east.post(
            "/assignments",
            json={"account_id": world.east_person, "role_id": write["id"], "department_id": "east"},
        )
        assert delegated.status_code == 201
        listed = await east.get("/assignments")
        ids = {a["id"] for a in listed.json()["items"]}
        assert {granted.json()["id"], delegated.json()["id"]} <= ids
        # The city-wide admins' own assignments (held everywhere) are not the district's.
        async with world.http(world.city_token) as city:
            everything = await city.get("/assignments", params={"account_id": world.city_admin})
            city_ids = {a["id"] for a in everything.json()["items"]}
            assert len(city_ids) == 2
        assert not ids & city_ids
        problem(await east.delete(f"/assignments/{next(iter(city_ids))}"), 404)
        assert (await east.delete(f"/assignments/{granted.json()['id']}")).status_code == 204
        groups = await east.post(
            "/groups", json={"id": "tax-team", "name": "税务组", "department_id": "east-tax"}
        )
        assert groups.status_code == 201
        assert (await east.put(f"/groups/tax-team/members/{world.east_person}")).status_code == 204
        problem(await east.put(f"/groups/tax-team/members/{world.west_person}"), 404)
        members = (await east.get("/groups/tax-team/members")).json()
        assert [m["account_id"] for m in members["items"]] == [world.east_person]


async def test_audit_log_pages_and_export(world: World) -> None:
    async with world.http(world.city_token) as http:
        for name in ("a", "b", "c"):
            answer = await http.post("/departments", json={"id": f"d-{name}", "name": name})
            assert answer.status_code == 201
        first = await http.get("/audit", params={"event": "admin.department.*", "limit": 2})
        page = first.json()
        assert page["total"] >= 7 and len(page["items"]) == 2 and page["next_cursor"]
        rest = await http.get(
            "/audit",
            params={"event": "admin.department.*", "limit": 200, "after": page["next_cursor"]},
        )
        assert len(page["items"]) + len(rest.json()["items"]) == page["total"]
        assert rest.json()["next_cursor"] is None
        export = await http.get(
            "/audit/export", params={"actor": world.city_admin, "event": "admin.*"}
        )
        assert export.status_code == 200
        assert export.headers["content-type"].startswith("application/x-ndjson")
        lines = [json.loads(line) for line in export.text.splitlines()]
        assert [line["target"] for line in lines] == ["d-a", "d-b", "d-c"]
        assert all(line["event"] == "admin.department.created" for line in lines)


async def test_a_change_whose_audit_entry_cannot_be_written_does_not_happen(world: World) -> None:
    from sqlalchemy import text

    async with (
        second_instance(world.live.settings) as services,
        services.database.transaction() as session,
    ):
        if services.database.is_sqlite:
            await session.execute(
                text(
                    "CREATE TRIGGER refuse_admin_audit BEFORE INSERT ON audit_events "
                    "WHEN NEW.event LIKE 'admin.%' BEGIN SELECT RAISE(ABORT, 'refused'); END"
                )
            )
        else:
            await session.execute(
                text(
                    "CREATE FUNCTION refuse_admin_audit() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN IF NEW.event LIKE 'admin.%' THEN RAISE EXCEPTION 'refused'; "
                    "END IF; RETURN NEW; END $$"
                )
            )
            await session.execute(
                text(
                    "CREATE TRIGGER refuse_admin_audit BEFORE INSERT ON audit_events "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_admin_audit()"
                )
            )
    async with world.http(world.city_token) as http:
        answer = await http.patch(f"/clients/{world.east_app}", json={"client_name": "改名"})
        assert problem(answer, 503)["detail"]
        answer = await http.put(f"/clients/{world.east_app}/policy", json={"min_acr": "L3"})
        problem(answer, 503)
        problem(await http.post("/departments", json={"id": "north", "name": "北区"}), 503)
        assert (await http.get(f"/clients/{world.east_app}")).json()["client_name"] == "东区社保"
        assert (await http.get(f"/clients/{world.east_app}/policy")).json()["version"] == 0
        problem(await http.get("/departments/north"), 404)


async def test_access_token_format_is_set_and_changed_through_the_api(world: World) -> None:
    async def token_of(client_id: str, secret: str) -> str:
        answer = await client_credentials_answer(world, client_id, secret)
        assert answer.status_code == 200, answer.text
        return answer.json()["access_token"]

    async with world.http(world.east_token) as http:
        # A null for a field that cannot be null means its default, as in a change.
        created = await http.post(
            "/clients",
            json={
                "client_name": "东区接口",
                "grant_types": ["client_credentials"],
                "scopes": ["data.read"],
                "department_id": "east",
                "access_token_format": "opaque",
                "require_consent": None,
            },
        )
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["access_token_format"] == "opaque" and body["require_consent"] is False
        client_id, secret = body["client_id"], body["client_secret"]
        assert (await token_of(client_id, secret)).startswith("yat_")
        changed = await http.patch(f"/clients/{client_id}", json={"access_token_format": "jwt"})
        assert changed.status_code == 200 and changed.json()["access_token_format"] == "jwt"
        assert (await token_of(client_id, secret)).count(".") == 2
        unchanged = await http.patch(f"/clients/{client_id}", json={"access_token_format": None})
        assert unchanged.json()["access_token_format"] == "jwt"
        assert unchanged.json()["resource_server"] is False
        # A resource server may introspect every app's tokens: a city-wide decision.
        problem(await http.patch(f"/clients/{client_id}", json={"resource_server": True}), 403)
        problem(
            await http.post(
                "/clients",
                json={
                    "client_name": "东区网关",
                    "grant_types": ["client_credentials"],
                    "department_id": "east",
                    "resource_server": True,
                },
            ),
            403,
        )
    async with world.http(world.city_token) as city:
        api = await city.patch(f"/clients/{client_id}", json={"resource_server": True})
        assert api.status_code == 200 and api.json()["resource_server"] is True
    async with world.http(world.east_token) as http:
        refused = problem(
            await http.patch(f"/clients/{client_id}", json={"access_token_format": "jwe"}), 422
        )
        assert refused["errors"][0]["loc"] == ["body", "access_token_format"]
        defaults = await http.post(
            "/clients",
            json={
                "client_name": "默认",
                "redirect_uris": ["https://e.example/cb"],
                "grant_types": None,
                "department_id": "east",
            },
        )
        assert defaults.status_code == 201, defaults.text
        assert defaults.json()["grant_types"] == ["authorization_code", "refresh_token"]
        assert defaults.json()["access_token_format"] == "jwt"
