"""No console action bypasses the admin API's rules: the same actors (a city-wide administrator,
a read-only one, a district administrator, the administrator of another district, a person who
administers nothing) try the same things inside and outside the east district through the admin
API and through the console, and meet the same outcome, status for status."""

from __future__ import annotations

import html
import itertools
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
import pytest

from gateway.admin import org, roles
from gateway.admin.changes import CLI
from gateway.admin.reach import Reach
from store import audit as audit_store
from tests.gateway.admin.conftest import make_account, sign_in_token
from tests.gateway.browser import hidden
from tests.gateway.console.conftest import Console, console_sign_in, enrol
from tests.gateway.helpers import second_instance

Api = Callable[[httpx.AsyncClient, "Target"], Awaitable[httpx.Response]]
Page = Callable[[httpx.AsyncClient, str, "Target"], Awaitable[httpx.Response]]
_names = itertools.count()
ENTERPRISE_API = "/account/api/v1/enterprises"


@dataclass(frozen=True)
class Target:
    person: str
    department: str
    parent: str
    app: str
    role: str  # a role of the app
    clerk: str  # a global role
    group: str  # a group of the department
    other: str  # a department of the other district


def fresh_id(channel: str) -> str:
    return f"n{next(_names)}-{channel}"


def api_outcome(answer: httpx.Response) -> str:
    assert answer.status_code < 500, answer.text
    return "ok" if answer.status_code < 300 else str(answer.status_code)


def console_outcome(answer: httpx.Response) -> str:
    assert answer.status_code < 500, answer.text
    if answer.status_code == 303 and answer.headers["location"].startswith("/admin/login"):
        return "signed-out"
    if answer.request.method == "GET":
        return "ok" if answer.status_code == 200 else str(answer.status_code)
    return "ok" if answer.status_code in (200, 201, 303) else str(answer.status_code)


def post(path: str, **fields: str) -> Page:
    async def send(http: httpx.AsyncClient, csrf: str, t: Target) -> httpx.Response:
        values = {k: v.format(t=t, new=fresh_id("console")) for k, v in fields.items()}
        return await http.post(path.format(t=t), data={"csrf_token": csrf, **values})

    return send


def edit(page: str, path: str, **fields: str) -> Page:
    """A post from an edit form, with the version the form was read at (when the actor could
    read it: otherwise without, and the refusal must still be the API's)."""

    async def send(http: httpx.AsyncClient, csrf: str, t: Target) -> httpx.Response:
        shown = await http.get(page.format(t=t))
        read = re.search(r'name="version" value="([^"]*)"', shown.text)
        values = {k: v.format(t=t) for k, v in fields.items()}
        if read:
            values["version"] = html.unescape(read.group(1))
        return await http.post(path.format(t=t), data={"csrf_token": csrf, **values})

    return send


def get(path: str) -> Page:
    async def send(http: httpx.AsyncClient, csrf: str, t: Target) -> httpx.Response:
        return await http.get(path.format(t=t))

    return send


async def grant_and_take_back(http: httpx.AsyncClient, t: Target) -> httpx.Response:
    body = {"account_id": t.person, "role_id": t.clerk, "department_id": t.department}
    made = await http.post("/assignments", json=body)
    if made.status_code >= 300:
        return made
    return await http.delete(f"/assignments/{made.json()['id']}")


async def share_and_undo(http: httpx.AsyncClient, t: Target) -> httpx.Response:
    """Into the west district's sector with a reason, and back (the console's turn follows)."""
    body = {"sector_identifier": "west.example", "sector_reason": "联合办理"}
    shared = await http.patch(f"/clients/{t.app}", json=body)
    if shared.status_code < 300:
        undone = await http.patch(f"/clients/{t.app}", json={"sector_identifier": None})
        assert undone.status_code == 200, undone.text
    return shared


DEPT = "/admin/departments/{t.department}"
GROUP = "/admin/groups/{t.group}"
APP_CLAIMS = "/admin/apps/{t.app}/claims"
ACTIONS: dict[str, tuple[Api, Page]] = {
    "read an account": (
        lambda http, t: http.get(f"/accounts/{t.person}"),
        get("/admin/accounts/{t.person}"),
    ),
    "enable an account": (
        lambda http, t: http.patch(f"/accounts/{t.person}", json={"disabled": False}),
        edit("/admin/accounts/{t.person}", "/admin/accounts/{t.person}/status", disabled="false"),
    ),
    "clear a lockout": (
        lambda http, t: http.post(f"/accounts/{t.person}/unlock"),
        post("/admin/accounts/{t.person}/unlock"),
    ),
    "reset a second factor": (
        lambda http, t: http.delete(f"/accounts/{t.person}/otp"),
        post("/admin/accounts/{t.person}/otp/reset"),
    ),
    "end every session": (
        lambda http, t: http.delete(f"/accounts/{t.person}/sessions"),
        post("/admin/accounts/{t.person}/sessions/end"),
    ),
    "end one session that is not there": (
        lambda http, t: http.delete(f"/accounts/{t.person}/sessions/no-such-session"),
        post("/admin/accounts/{t.person}/sessions/no-such-session/end"),
    ),
    "reset a password": (
        lambda http, t: http.post(f"/accounts/{t.person}/password/reset"),
        post("/admin/accounts/{t.person}/password/reset"),
    ),
    "remove the passkeys (there are none)": (
        lambda http, t: http.delete(f"/accounts/{t.person}/passkeys"),
        post("/admin/accounts/{t.person}/passkeys/reset"),
    ),
    "remove the recovery codes (there are none)": (
        lambda http, t: http.delete(f"/accounts/{t.person}/recovery-codes"),
        post("/admin/accounts/{t.person}/recovery-codes/reset"),
    ),
    "read a department": (
        lambda http, t: http.get(f"/departments/{t.department}"),
        get("/admin/departments/{t.department}"),
    ),
    "add a department below": (
        lambda http, t: http.post(
            "/departments", json={"id": fresh_id("api"), "name": "新", "parent_id": t.department}
        ),
        post("/admin/departments", id="{new}", name="新", parent_id="{t.department}"),
    ),
    "add a top-level department": (
        lambda http, t: http.post("/departments", json={"id": fresh_id("api"), "name": "新"}),
        post("/admin/departments", id="{new}", name="新"),
    ),
    "rename a department": (
        lambda http, t: http.patch(f"/departments/{t.department}", json={"name": "部门"}),
        edit(DEPT, "/admin/departments/{t.department}/rename", name="部门"),
    ),
    "rename with a stale version": (
        lambda http, t: http.patch(
            f"/departments/{t.department}", json={"name": "部门"}, headers={"If-Match": '"v0"'}
        ),
        post("/admin/departments/{t.department}/rename", name="部门", version='"v0"'),
    ),
    "move a department (to where it is)": (
        lambda http, t: http.patch(f"/departments/{t.department}", json={"parent_id": t.parent}),
        edit(DEPT, "/admin/departments/{t.department}/move", parent_id="{t.parent}"),
    ),
    "make a department top-level": (
        lambda http, t: http.patch(f"/departments/{t.department}", json={"parent_id": None}),
        edit(DEPT, "/admin/departments/{t.department}/move"),
    ),
    "read an app": (
        lambda http, t: http.get(f"/clients/{t.app}"),
        get("/admin/apps/{t.app}"),
    ),
    "register an app for a department": (
        lambda http, t: http.post(
            "/clients",
            json={
                "client_name": "新应用",
                "redirect_uris": ["https://new.example/cb"],
                "department_id": t.department,
            },
        ),
        post(
            "/admin/apps",
            client_name="新应用",
            redirect_uris="https://new.example/cb",
            department_id="{t.department}",
            public="false",
        ),
    ),
    # west_app's redirect host: the west district's pairwise sector.
    "register an app on another district's host": (
        lambda http, t: http.post(
            "/clients",
            json={
                "client_name": "借道应用",
                "redirect_uris": ["https://west.example/api-borrowed"],
                "department_id": t.department,
            },
        ),
        post(
            "/admin/apps",
            client_name="借道应用",
            redirect_uris="https://west.example/console-borrowed",
            department_id="{t.department}",
            public="false",
        ),
    ),
    "rotate an app's secret": (
        lambda http, t: http.post(f"/clients/{t.app}/secret"),
        edit("/admin/apps/{t.app}", "/admin/apps/{t.app}/secret"),
    ),
    # Suspended, then live again at once: the next actions meet a live app.
    "suspend an app": (
        lambda http, t: http.put(f"/clients/{t.app}/state", json={"state": "suspended"}),
        edit("/admin/apps/{t.app}", "/admin/apps/{t.app}/state", state="suspended"),
    ),
    "put an app live again": (
        lambda http, t: http.put(f"/clients/{t.app}/state", json={"state": "live"}),
        edit("/admin/apps/{t.app}", "/admin/apps/{t.app}/state", state="live"),
    ),
    "read an app's access policy": (
        lambda http, t: http.get(f"/clients/{t.app}/policy"),
        get("/admin/apps/{t.app}/policy"),
    ),
    "admit one department to an app": (
        lambda http, t: http.put(f"/clients/{t.app}/policy", json={"departments": [t.department]}),
        edit(
            "/admin/apps/{t.app}/policy",
            "/admin/apps/{t.app}/policy",
            kind_person="on",
            kind_legal_person="on",
            kind_staff="on",
            departments="{t.department}",
            min_acr="L1",
        ),
    ),
    # The preview changes nothing: it is refused where reading the policy is.
    "preview who an app lets in": (
        lambda http, t: http.get(f"/clients/{t.app}/policy"),
        post(
            "/admin/apps/{t.app}/policy/preview",
            kind_person="on",
            departments="{t.department}",
            account="{t.person}",
        ),
    ),
    "read an app's role": (
        lambda http, t: http.get(f"/roles/{t.role}"),
        get("/admin/roles/{t.role}"),
    ),
    "grant a role in a department": (
        grant_and_take_back,
        post(
            "/admin/roles/{t.clerk}/assignments",
            account="{t.person}",
            department_id="{t.department}",
        ),
    ),
    "define a role of an app": (
        lambda http, t: http.post("/roles", json={"name": fresh_id("api"), "client_id": t.app}),
        post("/admin/roles", name="{new}", client_id="{t.app}"),
    ),
    "describe an app's role": (
        lambda http, t: http.patch(f"/roles/{t.role}", json={"description": "办事"}),
        edit("/admin/roles/{t.role}", "/admin/roles/{t.role}/update", name="r", description="办事"),
    ),
    "remove an app's role with a stale version": (
        lambda http, t: http.delete(f"/roles/{t.role}", headers={"If-Match": '"v0"'}),
        post("/admin/roles/{t.role}/delete", version='"v0"'),
    ),
    "read an app's claims": (
        lambda http, t: http.get(f"/clients/{t.app}/policy"),
        get("/admin/apps/{t.app}/claims"),
    ),
    "rename an app's roles claim": (
        lambda http, t: http.put(
            f"/clients/{t.app}/policy", json={"claims": {"rename": {"roles": "authorities"}}}
        ),
        edit(APP_CLAIMS, APP_CLAIMS, rename_roles="authorities"),
    ),
    "approve a restricted claim for an app": (
        lambda http, t: http.put(
            f"/clients/{t.app}/policy", json={"claims": {"restricted": ["national_id"]}}
        ),
        edit(APP_CLAIMS, APP_CLAIMS, restricted_national_id="on"),
    ),
    "list the groups": (
        lambda http, t: http.get("/groups", params={"department_id": t.department}),
        get("/admin/groups?department={t.department}"),
    ),
    "read a group": (
        lambda http, t: http.get(f"/groups/{t.group}"),
        get("/admin/groups/{t.group}"),
    ),
    "add a group to a department": (
        lambda http, t: http.post(
            "/groups", json={"id": fresh_id("api"), "name": "组", "department_id": t.department}
        ),
        post("/admin/groups", id="{new}", name="组", department_id="{t.department}"),
    ),
    "add a city-wide group": (
        lambda http, t: http.post("/groups", json={"id": fresh_id("api"), "name": "组"}),
        post("/admin/groups", id="{new}", name="组"),
    ),
    "add a member to a group": (
        lambda http, t: http.put(f"/groups/{t.group}/members/{t.person}"),
        post("/admin/groups/{t.group}/members", account="{t.person}"),
    ),
    "remove a member from a group": (
        lambda http, t: http.delete(f"/groups/{t.group}/members/{t.person}"),
        post("/admin/groups/{t.group}/members/{t.person}/remove"),
    ),
    "rename a group": (
        lambda http, t: http.patch(
            f"/groups/{t.group}", json={"name": "组", "department_id": t.department}
        ),
        edit(GROUP, GROUP + "/update", name="组", department_id="{t.department}"),
    ),
    "rename a group with a stale version": (
        lambda http, t: http.patch(
            f"/groups/{t.group}",
            json={"name": "组", "department_id": t.department},
            headers={"If-Match": '"v0"'},
        ),
        post(GROUP + "/update", name="组", department_id="{t.department}", version='"v0"'),
    ),
    # The city-wide administrator moves the groups about: it goes last.
    "move a group to the other district": (
        lambda http, t: http.patch(f"/groups/{t.group}", json={"department_id": t.other}),
        edit(GROUP, GROUP + "/update", name="组", department_id="{t.other}"),
    ),
    "make a group city-wide": (
        lambda http, t: http.patch(f"/groups/{t.group}", json={"department_id": None}),
        edit(GROUP, GROUP + "/update", name="组", department_id=""),
    ),
    "remove a group with a stale version": (
        lambda http, t: http.delete(f"/groups/{t.group}", headers={"If-Match": '"v0"'}),
        post("/admin/groups/{t.group}/delete", version='"v0"'),
    ),
    "read the audit log": (
        lambda http, t: http.get("/audit", params={"event": "admin.*"}),
        get("/admin/audit?event=admin.*"),
    ),
    "export the audit log": (
        lambda http, t: http.get("/audit/export", params={"event": "console.*"}),
        get("/admin/audit/export.ndjson?event=console.*"),
    ),
    "list the enterprises": (
        lambda http, t: http.get("/accounts", params={"kind": "legal_person"}),
        get("/admin/enterprises"),
    ),
    # The enterprise API answers the console's own token: a person is no enterprise (404).
    "read an enterprise's delegations": (
        lambda http, t: http.get(http.base_url.join(f"{ENTERPRISE_API}/{t.person}/delegations")),
        get("/admin/enterprises/{t.person}"),
    ),
    "list the login systems": (
        lambda http, t: http.get("/providers"),
        get("/admin/providers"),
    ),
    "add a login system with a bad setting": (
        lambda http, t: http.post(
            "/providers",
            json={"id": "cas-x", "type": "cas", "config": {"name": "x", "server_url": "ftp://x"}},
        ),
        post("/admin/providers", id="cas-x", type="cas", cfg_name="x", cfg_server_url="ftp://x"),
    ),
    "remove a login system that is not there": (
        lambda http, t: http.delete("/providers/nothing-here"),
        post("/admin/providers/nothing-here/delete"),
    ),
    "test a login system that is not there": (
        lambda http, t: http.post("/providers/nothing-here/test"),
        post("/admin/providers/nothing-here/test"),
    ),
    "disable a login system that is not there": (
        lambda http, t: http.patch("/providers/nothing-here", json={"disabled": True}),
        post("/admin/providers/nothing-here/state", disabled="true"),
    ),
    "list the signing keys": (
        lambda http, t: http.get("/keys"),
        get("/admin/keys"),
    ),
    # Forced: a rotation not forced right after another is refused (409) on both sides alike,
    # and the console's would always follow the API's.
    "rotate a signing key (forced)": (
        lambda http, t: http.post("/keys/rotate", json={"force": True}),
        post("/admin/keys/rotate", force="on"),
    ),
    "register an app with public subjects": (
        lambda http, t: http.post(
            "/clients",
            json={
                "client_name": "公共标识应用",
                "redirect_uris": ["https://public.example/cb"],
                "department_id": t.department,
                "subject_type": "public",
                "subject_type_reason": "全市统一身份",
            },
        ),
        post(
            "/admin/apps",
            client_name="公共标识应用",
            redirect_uris="https://public.example/cb",
            department_id="{t.department}",
            public="false",
            subject_type="public",
            subject_type_reason="全市统一身份",
        ),
    ),
    "make an app's subjects public without a reason": (
        lambda http, t: http.patch(f"/clients/{t.app}", json={"subject_type": "public"}),
        edit("/admin/apps/{t.app}", "/admin/apps/{t.app}/subject", subject_type="public"),
    ),
    # Nothing after it depends on the app's sector: the console's turn leaves it shared.
    "share the west district's sector, with a reason": (
        share_and_undo,
        edit(
            "/admin/apps/{t.app}",
            "/admin/apps/{t.app}/subject",
            sector_identifier="west.example",
            sector_reason="联合办理",
        ),
    ),
    "remove a department that holds accounts": (
        lambda http, t: http.delete(f"/departments/{t.department}"),
        edit(DEPT, "/admin/departments/{t.department}/delete"),
    ),
}


async def reader_and_roles(console: Console) -> dict[str, str]:
    """A read-only city-wide administrator, a global role, and a role of each district's app."""
    world = console.world
    async with second_instance(console.live.settings) as services:
        reader = await make_account(services, "reader", None)
        await roles.grant_admin(services, CLI, reader, ["admin:read"])
        console.codes["reader"] = await enrol(services, reader, "reader")
        everywhere = Reach.everywhere()
        made = {"clerk": (await roles.create_role(services, CLI, everywhere, "clerk")).id}
        for side, app in (("east", world.east_app), ("west", world.west_app)):
            made[side] = (await roles.create_role(services, CLI, everywhere, "r", "", app)).id
        for side, department in (("east", "east-tax"), ("west", "west")):
            made[f"{side}-group"] = (
                await org.create_group(services, CLI, everywhere, f"{side}-g", "组", department)
            ).id
    return made


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_every_console_action_meets_the_admin_apis_answer(console: Console) -> None:
    world = console.world
    made = await reader_and_roles(console)
    sides = {
        "inside": Target(
            world.east_person,
            "east-tax",
            "east",
            world.east_app,
            made["east"],
            made["clerk"],
            made["east-group"],
            "west",
        ),
        "outside": Target(
            world.west_person,
            "west",
            "city",
            world.west_app,
            made["west"],
            made["clerk"],
            made["west-group"],
            "east-tax",
        ),
    }
    # The city-wide administrator goes last: it may move the districts' departments about.
    actors = ["reader", "east-admin", "west-admin", "plain", "root"]
    found: dict[tuple[str, str, str], tuple[str, str]] = {}
    for actor in actors:
        token = (
            world.city_token
            if actor == "root"
            else world.east_token
            if actor == "east-admin"
            else await sign_in_token(world.live, world.admin_client, actor)
        )
        browser, landed = await console_sign_in(console, actor)
        csrf = hidden(landed.text, "csrf_token") if landed.status_code == 200 else "-"
        try:
            async with world.http(token) as api:
                for (name, (by_api, by_page)), (side, target) in itertools.product(
                    ACTIONS.items(), sides.items()
                ):
                    found[(actor, name, side)] = (
                        api_outcome(await by_api(api, target)),
                        console_outcome(await by_page(browser, csrf, target)),
                    )
        finally:
            await browser.aclose()
    differing = {key: pair for key, pair in found.items() if pair[0] != pair[1]}
    # The person without an admin role is refused by the API (403) and never gets a console
    # session (its sign-in ends on a 403 page): every console request sends it to sign in.
    plain = {key: pair for key, pair in differing.items() if key[0] == "plain"}
    assert set(plain.values()) == {("403", "signed-out")}
    assert {key for key in found if key[0] == "plain"} == set(plain)
    assert {k: v for k, v in differing.items() if k[0] != "plain"} == {}
    # The table is not all refusals: each administrator acts where the API lets it.
    assert found[("root", "rename a department", "outside")] == ("ok", "ok")
    assert found[("reader", "rename a department", "inside")] == ("403", "403")
    assert found[("east-admin", "enable an account", "inside")] == ("ok", "ok")
    assert found[("east-admin", "enable an account", "outside")] == ("404", "404")
    assert found[("west-admin", "read a department", "inside")] == ("404", "404")
    assert found[("west-admin", "read a department", "outside")] == ("ok", "ok")
    assert found[("root", "remove a department that holds accounts", "inside")] == ("409", "409")
    assert found[("east-admin", "rename with a stale version", "inside")] == ("412", "412")
    assert found[("east-admin", "rotate an app's secret", "inside")] == ("ok", "ok")
    assert found[("east-admin", "grant a role in a department", "inside")] == ("ok", "ok")
    assert found[("east-admin", "grant a role in a department", "outside")] == ("422", "422")
    assert found[("east-admin", "read the audit log", "inside")] == ("403", "403")
    assert found[("reader", "export the audit log", "inside")] == ("ok", "ok")
    assert found[("east-admin", "register an app for a department", "outside")] == ("422", "422")
    assert found[("east-admin", "register an app on another district's host", "inside")] == (
        "403",
        "403",
    )
    assert found[("root", "register an app on another district's host", "inside")] == (
        "422",
        "422",
    )
    assert found[("east-admin", "admit one department to an app", "inside")] == ("ok", "ok")
    assert found[("east-admin", "admit one department to an app", "outside")] == ("404", "404")
    assert found[("reader", "admit one department to an app", "inside")] == ("403", "403")
    assert found[("reader", "preview who an app lets in", "inside")] == ("ok", "ok")
    assert found[("root", "rotate a signing key (forced)", "inside")] == ("ok", "ok")
    assert found[("root", "read an enterprise's delegations", "inside")] == ("404", "404")
    assert found[("east-admin", "read an enterprise's delegations", "inside")] == ("403", "403")
    assert found[("root", "add a login system with a bad setting", "inside")] == ("422", "422")
    assert found[("east-admin", "add a login system with a bad setting", "inside")] == (
        "403",
        "403",
    )
    assert found[("root", "remove a login system that is not there", "inside")] == ("404", "404")
    assert found[("west-admin", "list the login systems", "outside")] == ("403", "403")
    assert found[("east-admin", "list the signing keys", "inside")] == ("403", "403")
    assert found[("reader", "rotate a signing key (forced)", "inside")] == ("403", "403")
    assert found[("west-admin", "preview who an app lets in", "inside")] == ("404", "404")
    assert found[("east-admin", "suspend an app", "inside")] == ("ok", "ok")
    assert found[("east-admin", "suspend an app", "outside")] == ("404", "404")
    assert found[("reader", "put an app live again", "inside")] == ("403", "403")
    assert found[("east-admin", "end one session that is not there", "inside")] == ("404", "404")
    assert found[("reader", "end one session that is not there", "inside")] == ("403", "403")
    assert found[("east-admin", "reset a password", "outside")] == ("404", "404")
    assert found[("west-admin", "remove the passkeys (there are none)", "outside")] == (
        "404",
        "404",
    )
    assert found[("root", "test a login system that is not there", "inside")] == ("404", "404")
    assert found[("east-admin", "test a login system that is not there", "inside")] == (
        "403",
        "403",
    )
    assert found[("east-admin", "disable a login system that is not there", "inside")] == (
        "403",
        "403",
    )
    assert found[("east-admin", "define a role of an app", "inside")] == ("ok", "ok")
    assert found[("east-admin", "define a role of an app", "outside")] == ("422", "422")
    assert found[("east-admin", "describe an app's role", "inside")] == ("ok", "ok")
    assert found[("east-admin", "describe an app's role", "outside")] == ("404", "404")
    assert found[("reader", "describe an app's role", "inside")] == ("403", "403")
    assert found[("east-admin", "remove an app's role with a stale version", "inside")] == (
        "412",
        "412",
    )
    assert found[("east-admin", "rename an app's roles claim", "inside")] == ("ok", "ok")
    assert found[("west-admin", "read an app's claims", "inside")] == ("404", "404")
    assert found[("east-admin", "approve a restricted claim for an app", "inside")] == (
        "403",
        "403",
    )
    assert found[("root", "approve a restricted claim for an app", "outside")] == ("ok", "ok")
    assert found[("root", "register an app with public subjects", "inside")] == ("ok", "ok")
    assert found[("east-admin", "register an app with public subjects", "inside")] == (
        "403",
        "403",
    )
    assert found[("root", "make an app's subjects public without a reason", "inside")] == (
        "422",
        "422",
    )
    assert found[("east-admin", "make an app's subjects public without a reason", "inside")] == (
        "403",
        "403",
    )
    sharing = "share the west district's sector, with a reason"
    assert found[("root", sharing, "inside")] == ("ok", "ok")
    assert found[("root", sharing, "outside")] == ("422", "422")  # its own: no reason to give
    assert found[("east-admin", sharing, "inside")] == ("422", "422")
    assert found[("east-admin", "add a member to a group", "inside")] == ("ok", "ok")
    assert found[("east-admin", "add a member to a group", "outside")] == ("404", "404")
    assert found[("east-admin", "remove a member from a group", "inside")] == ("ok", "ok")
    assert found[("east-admin", "add a group to a department", "inside")] == ("ok", "ok")
    assert found[("east-admin", "add a group to a department", "outside")] == ("422", "422")
    assert found[("east-admin", "add a city-wide group", "inside")] == ("422", "422")
    assert found[("root", "add a city-wide group", "inside")] == ("ok", "ok")
    assert found[("reader", "add a member to a group", "inside")] == ("403", "403")
    assert found[("west-admin", "read a group", "inside")] == ("404", "404")
    assert found[("east-admin", "remove a group with a stale version", "inside")] == (
        "412",
        "412",
    )
    assert found[("west-admin", "remove a group with a stale version", "inside")] == (
        "404",
        "404",
    )
    assert found[("east-admin", "rename a group", "inside")] == ("ok", "ok")
    assert found[("east-admin", "rename a group", "outside")] == ("404", "404")
    assert found[("reader", "rename a group", "inside")] == ("403", "403")
    assert found[("east-admin", "rename a group with a stale version", "inside")] == (
        "412",
        "412",
    )
    # A department out of reach is named as an unknown one is (as adding a group there).
    assert found[("east-admin", "move a group to the other district", "inside")] == (
        "422",
        "422",
    )
    assert found[("west-admin", "move a group to the other district", "outside")] == (
        "422",
        "422",
    )
    assert found[("west-admin", "move a group to the other district", "inside")] == (
        "404",
        "404",
    )
    assert found[("root", "move a group to the other district", "inside")] == ("ok", "ok")
    assert found[("east-admin", "make a group city-wide", "inside")] == ("422", "422")
    assert found[("root", "make a group city-wide", "outside")] == ("ok", "ok")


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_a_role_holder_out_of_reach_is_hidden_alike(console: Console) -> None:
    """A role held by a west account inside the east district: the east administrator meets
    it neither through the API (listed, read, taken back) nor on the role's console page."""
    world = console.world
    async with second_instance(console.live.settings) as services:
        everywhere = Reach.everywhere()
        clerk = (await roles.create_role(services, CLI, everywhere, "clerk")).id
        crossing = await roles.assign(
            services, CLI, everywhere, world.west_person, clerk, "east-tax"
        )
        own = await roles.assign(services, CLI, everywhere, world.east_person, clerk, "east-tax")
    async with world.http(world.east_token) as api:
        listed = (await api.get("/assignments", params={"role_id": clerk})).json()
        assert ([a["id"] for a in listed["items"]], listed["total"]) == ([own.id], 1)
        assert (await api.get(f"/assignments/{crossing.id}")).status_code == 404
        assert (await api.delete(f"/assignments/{crossing.id}")).status_code == 404
    browser, landed = await console_sign_in(console, "east-admin")
    try:
        shown = await browser.get(f"/admin/roles/{clerk}")
        assert shown.status_code == 200
        assert "east-person" in shown.text
        assert "west-person" not in shown.text and crossing.id not in shown.text
        form = {"csrf_token": hidden(landed.text, "csrf_token"), "version": '"v1"'}
        taken = await browser.post(f"/admin/assignments/{crossing.id}/delete", data=form)
        assert taken.status_code == 404
    finally:
        await browser.aclose()
    async with world.http(world.city_token) as api:
        listed = (await api.get("/assignments", params={"role_id": clerk})).json()
        assert {a["id"] for a in listed["items"]} == {own.id, crossing.id}


async def test_a_console_refusal_is_audited_as_the_apis(console: Console) -> None:
    browser, landed = await console_sign_in(console, "west-admin")
    try:
        csrf = hidden(landed.text, "csrf_token")
        refused = await browser.post(
            f"/admin/accounts/{console.world.east_person}/unlock", data={"csrf_token": csrf}
        )
        assert refused.status_code == 404
    finally:
        await browser.aclose()
    async with (
        second_instance(console.live.settings) as services,
        services.database.sessions() as session,
    ):
        events = await audit_store.query(session, event="admin.denied")
    assert [(e.actor, e.details["operation"], e.details["status"]) for e in events] == [
        (console.west_admin, "unlock_account", 404)
    ]
    assert events[0].client_id == "yihaotong-console"
