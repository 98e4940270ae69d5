"""The admin API tests' organisation (a city, east and west districts, their people and apps),
with the console's administrators: each has an authenticator app (the console's policy asks
for a second factor), and a west district administrator joins them."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import pyotp
import pytest

from gateway.admin import roles
from gateway.admin.changes import CLI
from gateway.server.settings import Settings
from tests.conftest import LiveServer, Seed
from tests.gateway.admin.conftest import PASSWORD, World, build_people, make_account, signed_in
from tests.gateway.browser import TLS, hidden
from tests.gateway.helpers import second_instance


@dataclass
class Console:
    live: LiveServer
    world: World
    west_admin: str
    plain: str  # an account holding no admin role
    codes: dict[str, pyotp.TOTP] = field(default_factory=dict)  # username -> its app
    steps: dict[str, int] = field(default_factory=dict)  # username -> the last step used

    def code(self, username: str) -> str:
        """A code of a step not used before (the gateway refuses a replayed one): the next
        step; a second sign-in within it waits until the step after is within the window."""
        step = int(time.time() // 30) + 1
        last = self.steps.get(username)
        if last is not None and step <= last:
            time.sleep(max(0.0, last * 30 - time.time()) + 0.5)
            step = last + 1
        self.steps[username] = step
        return self.codes[username].at(step * 30)


async def enrol(services, account_id: str, username: str) -> pyotp.TOTP:
    started = await services.otp.begin(account_id, username)
    assert started is not None
    totp = pyotp.TOTP(started[0])
    assert await services.otp.verify(account_id, totp.now(), confirming=True)
    return totp


async def console_people(settings: Settings) -> dict[str, Any]:
    """The admin world's people and apps, a west district administrator and an account that
    administers nothing (no sign-in, no authenticator app yet)."""
    people = await build_people(settings)
    async with second_instance(settings) as services:
        west_admin = await make_account(services, "west-admin", "west")
        await roles.grant_admin(
            services, CLI, west_admin, ["admin:read", "admin:write"], department_id="west"
        )
        plain = await make_account(services, "plain", "east")
    return {"people": people, "west_admin": west_admin, "plain": plain}


@pytest.fixture
def seed() -> Seed:
    return Seed("console-people", console_people)


@pytest.fixture
async def console(live_server: LiveServer, seed: Seed) -> Console:
    """The console's world: its gateway starts from a copy of the people (built once per worker
    and backend); the admin world's administrators sign in, then everyone enrols an app."""
    values = live_server.seeded
    world = await signed_in(live_server, values["people"])
    found = Console(live_server, world, values["west_admin"], values["plain"])
    async with second_instance(live_server.settings) as services:
        for username, account_id in (
            ("root", world.city_admin),
            ("east-admin", world.east_admin),
            ("west-admin", found.west_admin),
            ("plain", found.plain),
        ):
            found.codes[username] = await enrol(services, account_id, username)
    return found


async def console_sign_in(
    console: Console, username: str, *, otp: bool = True, seen: list | None = None
) -> tuple[httpx.AsyncClient, httpx.Response]:
    """A browser signed in to the console (as far as it gets): its cookies, and the last
    answer on the way (a console page when it worked); ``seen`` collects every answer."""
    http = httpx.AsyncClient(
        base_url=console.live.url, follow_redirects=False, timeout=30, verify=TLS
    )
    answer = await http.get("/admin/login")
    for _ in range(16):
        if seen is not None:
            seen.append(answer)
        if answer.status_code in (302, 303, 307, 308):
            answer = await http.get(answer.headers["location"])
            continue
        path, text = answer.request.url.path, answer.text
        if answer.status_code != 200 or path.startswith("/admin/"):
            break
        fields = {"tx": hidden(text, "tx"), "csrf_token": hidden(text, "csrf_token")}
        if path == "/login":
            fields |= {"username": username, "password": PASSWORD}
        elif path == "/login/otp" and otp:
            fields |= {"code": console.code(username)}
        elif path == "/consent":
            fields |= {"decision": "allow"}
        else:
            break
        answer = await http.post(path, data=fields)
    return http, answer
