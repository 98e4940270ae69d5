"""The table "Who may do what, where" in docs/administration.md is the admin API's authorization
contract: this test reads it and checks every cell over HTTP, each with a probe inside the east
district and one outside it (in the west district, or city-level)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from gateway.admin import apps, org
from gateway.admin import roles as admin_roles
from gateway.admin.changes import CLI
from gateway.admin.reach import Reach
from store.tables import AccountRow
from tests.gateway.admin.conftest import World, make_account, sign_in_token
from tests.gateway.admin.test_admin_api import client_credentials_answer
from tests.gateway.helpers import second_instance

ROOT = Path(__file__).parents[3]
ADMINISTRATION = ROOT / "docs" / "administration.md"
REFUSED = {401, 403, 404, 405, 422}

Probe = Callable[[httpx.AsyncClient, bool], Awaitable[bool]]  # (http, inside) -> allowed


def table() -> tuple[list[str], dict[str, list[str]]]:
    text = ADMINISTRATION.read_text(encoding="utf-8")
    section = text.split("### Who may do what, where", 1)[1].split("\n\n")
    part = next(part for part in section if part.startswith("| resource"))
    lines = [line for line in part.splitlines() if line.startswith("|")]
    split = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
    return split[0][1:], {row[0]: row[1:] for row in split[2:]}


@dataclass
class Setting:
    ids: dict[str, str]

    def __getitem__(self, name: str) -> str:
        return self.ids[name]


def ok(answer: httpx.Response) -> bool:
    assert answer.status_code < 300 or answer.status_code in REFUSED, answer.text
    return answer.status_code < 300


def passed_authorization(answer: httpx.Response) -> bool:
    """For city-wide matters: a 404 (a missing id) or 409 (a key rotated too soon) means the
    caller was let in."""
    assert answer.status_code < 300 or answer.status_code in REFUSED | {409}, answer.text
    return answer.status_code not in (401, 403, 405)


def probes(world: World, s: Setting) -> dict[str, tuple[Probe, Probe]]:
    def side(inside: bool, east: str, west: str) -> str:
        return east if inside else west

    async def department_read(http, inside):
        return ok(await http.get(f"/departments/{side(inside, 'east-tax', 'west')}"))

    async def department_write(http, inside):
        where = side(inside, "east-tax", "west")
        return ok(await http.patch(f"/departments/{where}", json={"name": "部门"}))

    async def account_read(http, inside):
        return ok(await http.get(f"/accounts/{side(inside, world.east_person, world.west_person)}"))

    async def account_write(http, inside):
        who = side(inside, world.east_person, world.west_person)
        return ok(await http.post(f"/accounts/{who}/unlock"))

    async def role_read(http, inside):
        return ok(await http.get(f"/roles/{side(inside, s['role-east'], s['role-west'])}"))

    async def assignment_write(http, inside):
        body = {
            "account_id": side(inside, world.east_person, world.west_person),
            "role_id": s["clerk"],
            "department_id": side(inside, "east-tax", "west"),
        }
        made = await http.post("/assignments", json=body)
        if not ok(made):
            return False
        return ok(await http.delete(f"/assignments/{made.json()['id']}"))

    async def group_read(http, inside):
        return ok(await http.get(f"/groups/{side(inside, 'east-team', 'west-team')}"))

    async def group_write(http, inside):
        group = side(inside, "east-team", "west-team")
        who = side(inside, world.east_person, world.west_person)
        return ok(await http.put(f"/groups/{group}/members/{who}"))

    async def app_read(http, inside):
        return ok(await http.get(f"/clients/{side(inside, world.east_app, world.west_app)}/policy"))

    async def app_write(http, inside):
        app = side(inside, world.east_app, world.west_app)
        return ok(await http.put(f"/clients/{app}/policy", json={}))

    async def server_read(http, inside):
        return ok(await http.get(f"/clients/{side(inside, s['rs-east'], s['rs-west'])}"))

    async def server_write(http, inside):
        app = side(inside, world.east_app, world.west_app)
        made = await http.patch(f"/clients/{app}", json={"resource_server": True})
        if not ok(made):
            return False
        return ok(await http.patch(f"/clients/{app}", json={"resource_server": False}))

    async def providers_read(http, inside):
        return ok(await http.get("/providers"))

    async def providers_write(http, inside):
        return passed_authorization(await http.delete("/providers/nothing-here"))

    async def keys_read(http, inside):
        return ok(await http.get("/keys"))

    async def keys_write(http, inside):
        return passed_authorization(await http.post("/keys/rotate", json={}))

    async def audit_read(http, inside):
        return ok(await http.get("/audit"))

    async def audit_write(http, inside):
        return ok(await http.post("/audit", json={}))

    async def sessions_read(http, inside):
        who = side(inside, world.east_person, world.west_person)
        return ok(await http.get(f"/accounts/{who}/sessions"))

    async def sessions_write(http, inside):
        who = side(inside, world.east_person, world.west_person)
        return ok(await http.delete(f"/accounts/{who}/sessions"))

    return {
        "departments": (department_read, department_write),
        "accounts": (account_read, account_write),
        "roles and assignments": (role_read, assignment_write),
        "groups and members": (group_read, group_write),
        "apps and their policies": (app_read, app_write),
        "resource servers": (server_read, server_write),
        "department login systems": (providers_read, providers_write),
        "signing keys": (keys_read, keys_write),
        "audit log": (audit_read, audit_write),
        "SSO sessions of accounts": (sessions_read, sessions_write),
    }


async def callers(world: World) -> tuple[dict[str, str], Setting]:
    """A token for each column of the table, and the records the probes use."""
    ids: dict[str, str] = {}
    async with second_instance(world.live.settings) as services:
        everywhere = Reach.everywhere()
        reader = await make_account(services, "reader", None)
        await admin_roles.grant_admin(services, CLI, reader, ["admin:read"])
        await org.create_group(services, CLI, everywhere, "east-team", "东", "east")
        await org.create_group(services, CLI, everywhere, "west-team", "西", "west")
        ids["clerk"] = (await admin_roles.create_role(services, CLI, everywhere, "clerk")).id
        for side, app in (("east", world.east_app), ("west", world.west_app)):
            role = await admin_roles.create_role(services, CLI, everywhere, "r", "", app)
            ids[f"role-{side}"] = role.id
            values = {
                "client_name": f"api-{side}",
                "redirect_uris": [f"https://{side}.example/api"],
                "department_id": "east-tax" if side == "east" else "west",
                "resource_server": True,
            }
            server, _ = await apps.create_client(services, CLI, everywhere, values)
            ids[f"rs-{side}"] = server.client_id
        values = {
            "client_name": "东区接口",
            "redirect_uris": ["https://east.example/owner"],
            "department_id": "east-tax",
            "grant_types": ["client_credentials"],
        }
        owned, secret = await apps.create_client(services, CLI, everywhere, values)
        enterprise = await make_account(services, "acme", None)
        representative = await make_account(services, "representative", None)
        async with services.database.transaction() as session:
            await session.execute(
                sa.update(AccountRow).where(AccountRow.id == enterprise).values(kind="legal_person")
            )
        await services.delegations.appoint(
            await services.accounts.get(enterprise),
            await services.accounts.get(representative),
            "representative",
            [],
            None,
            actor="cli",
            actor_position=None,
        )
    answer = await client_credentials_answer(world, owned.client_id, secret or "")
    assert answer.status_code == 200, answer.text
    tokens = {
        "city-wide admin (`admin:read` + `admin:write`)": world.city_token,
        "city-wide admin (`admin:read` only)": await sign_in_token(
            world.live, world.admin_client, "reader", "openid admin:read"
        ),
        "department admin (`admin:*` in a subtree)": world.east_token,
        "enterprise representative": await sign_in_token(
            world.live, world.admin_client, "representative"
        ),
        "app owner (its client's token)": answer.json()["access_token"],
    }
    return tokens, Setting(ids)


EXPECT = re.compile(
    r"read: (city-wide|own subtree|nowhere); write: (city-wide|own subtree|nowhere)"
)


@pytest.mark.slow
async def test_every_cell_of_the_readme_authorization_table_holds(world: World) -> None:
    columns, rows = table()
    tokens, setting = await callers(world)
    checks = probes(world, setting)
    assert set(columns) == set(tokens) and set(rows) == set(checks)
    failures = []
    for resource, cells in rows.items():
        for column, cell in zip(columns, cells, strict=True):
            expected = EXPECT.fullmatch(cell)
            assert expected, cell
            async with world.http(tokens[column]) as http:
                for probe, where in zip(checks[resource], expected.groups(), strict=True):
                    inside, outside = await probe(http, True), await probe(http, False)
                    wanted = {
                        "city-wide": (True, True),
                        "own subtree": (True, False),
                        "nowhere": (False, False),
                    }[where]
                    if (inside, outside) != wanted:
                        failures.append((resource, column, probe.__name__, (inside, outside)))
    assert failures == []


def test_every_privileged_scope_rule_names_tests_that_exist() -> None:
    """The second table of docs/administration.md (privileged apps and scopes) names the tests
    that check each row; a row without one, or naming a test that is gone, fails here."""
    text = ADMINISTRATION.read_text(encoding="utf-8")
    section = text.split("Privileged apps and scopes (`admin:read`", 1)[1].split("\n\n")[1]
    rows = [line for line in section.splitlines() if line.startswith("|")][2:]
    assert len(rows) >= 8
    sources = "\n".join(
        path.read_text(encoding="utf-8") for path in ROOT.joinpath("tests").rglob("*.py")
    )
    for row in rows:
        named = re.findall(r"`(test_\w+)`", row.rsplit("|", 2)[-2])
        assert named, f"no test named for: {row[:60]}"
        for test in named:
            assert f"def {test}(" in sources, f"{test} (named in the docs) does not exist"
