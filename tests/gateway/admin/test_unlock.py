"""An administrator's unlock reaches every way the account signs in: its own username and the
name it has in each linked department's login system (a real slapd), on both backends."""

from __future__ import annotations

import pytest

from store import audit as audit_store
from tests.gateway.admin.conftest import World, build_world
from tests.gateway.browser import Browser, hidden
from tests.gateway.helpers import second_instance
from tests.gateway.identity.test_federated_sign_in import ldap_config
from tests.gateway.sso import CALLBACK, PASSWORD, authorize_url
from tests.providers import slapd
from tests.support import required

TAX_PASSWORD = "tax-password-1"


@pytest.fixture(scope="module")
def ldap_directory(tmp_path_factory: pytest.TempPathFactory):
    required(slapd.available(), "slapd with ldap-utils (apt-get install slapd ldap-utils)")
    server = slapd.start(tmp_path_factory.mktemp("slapd"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def linked(live_server, ldap_directory):
    """The admin world, plus wang: a local account whose tax-office login (zhangwei, in slapd)
    is linked to it, proven by signing in to wang on the same page."""
    async with second_instance(live_server.settings) as admin:
        # Vouches for phones but is not trusted to link by them: the person proves ownership.
        await admin.login_systems.add(
            "tax", "ldap", ldap_config(ldap_directory.url, verified=["phone"])
        )
        wang = await admin.accounts.create_local(
            username="wang", password=PASSWORD, phone="13900139000"
        )
        app = await admin.clients.register(name="市民门户", redirect_uris=[CALLBACK])
    browser = Browser(live_server.url)
    try:
        asked = await browser.go(
            authorize_url(live_server.url, app.client.client_id),
            username="zhangwei",
            password=TAX_PASSWORD,
            provider="tax",
        )
        assert asked.status_code == 400 and "请先用该一号通账号登录" in asked.text
        proof = {
            "tx": hidden(asked.text, "tx"),
            "csrf_token": hidden(asked.text, "csrf_token"),
            "username": "wang",
            "password": PASSWORD,
            "provider": "local",
        }
        assert (await browser.http.post("/login", data=proof)).status_code == 303
    finally:
        await browser.close()
    world = await build_world(live_server)
    return world, app, wang.id


async def attempt(world: World, app, username: str, password: str, provider: str) -> int:
    """One sign-in from a browser that never signed in before; its status."""
    browser = Browser(world.live.url)
    try:
        answer = await browser.go(
            authorize_url(world.live.url, app.client.client_id),
            username=username,
            password=password,
            provider=provider,
        )
        return answer.status_code
    finally:
        await browser.close()


async def test_unlock_clears_the_local_and_the_department_name(linked) -> None:
    world, app, wang = linked
    ways = (("wang", PASSWORD, "local"), ("zhangwei", TAX_PASSWORD, "tax"))
    assert [await attempt(world, app, *way) for way in ways] == [303, 303]
    for username, _, provider in ways:  # a stranger locks both names
        for _ in range(5):
            assert await attempt(world, app, username, "a guess", provider) == 400
    assert [await attempt(world, app, *way) for way in ways] == [429, 429]

    async with world.http(world.city_token) as http:
        links = (await http.get(f"/accounts/{wang}/links")).json()["items"]
        assert [link["provider_id"] for link in links] == ["tax"]
        assert (await http.post(f"/accounts/{wang}/unlock")).status_code == 204
    assert [await attempt(world, app, *way) for way in ways] == [303, 303]

    async with (
        second_instance(world.live.settings) as services,
        services.database.sessions() as session,
    ):
        events = await audit_store.query(session, event="admin.account.unlocked")
    assert [(e.actor, e.target) for e in events] == [(world.city_admin, wang)]
    assert events[0].details["names"] >= 2


async def test_unlock_leaves_other_accounts_locked(linked) -> None:
    world, app, wang = linked
    for _ in range(5):
        assert await attempt(world, app, "liuyang", "a guess", "tax") == 400
    async with world.http(world.city_token) as http:
        assert (await http.post(f"/accounts/{wang}/unlock")).status_code == 204
    assert await attempt(world, app, "liuyang", "tax-password-2", "tax") == 429


async def test_the_owner_passes_a_department_name_a_stranger_locked(linked) -> None:
    """Device cookies hold for department names too, and stay apart from the local name's."""
    world, app, _ = linked
    owner = Browser(world.live.url)
    try:
        first = await owner.go(
            authorize_url(world.live.url, app.client.client_id),
            username="zhangwei",
            password=TAX_PASSWORD,
            provider="tax",
        )
        assert first.status_code == 303
        for _ in range(5):
            assert await attempt(world, app, "zhangwei", "a guess", "tax") == 400
        assert await attempt(world, app, "zhangwei", TAX_PASSWORD, "tax") == 429
        again = authorize_url(world.live.url, app.client.client_id, prompt="login")
        passed = await owner.go(again, username="zhangwei", password=TAX_PASSWORD, provider="tax")
        assert passed.status_code == 303 and passed.headers["location"].startswith(CALLBACK)
        for _ in range(5):
            assert await attempt(world, app, "wang", "a guess", "local") == 400
        # The cookie names the tax office's zhangwei, not the account's own username.
        local = await owner.go(again, username="wang", password=PASSWORD, provider="local")
        assert local.status_code == 429
    finally:
        await owner.close()
