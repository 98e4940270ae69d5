"""An organisation for admin API tests, on a live gateway: a city with two districts, an admin
app, a city-wide administrator, a district administrator and apps owned by each district.
Tokens come from the real authorization-code flow."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from gateway.admin import apps, org, roles
from gateway.admin.changes import CLI
from gateway.admin.reach import Reach
from gateway.identity.clients import Registered
from gateway.server.services import Services
from gateway.server.settings import Settings
from store import accounts as account_store
from tests.conftest import LiveServer, Seed
from tests.gateway.browser import TLS, Browser
from tests.gateway.helpers import second_instance

PASSWORD = "correct horse battery"
CALLBACK = "https://admin.example.gov.cn/cb"
API = "/admin/api/v1"
ADMIN_SCOPE = "openid admin:read admin:write"


async def sign_in_token(
    live: LiveServer, client: Registered, username: str, scope: str = ADMIN_SCOPE
) -> str:
    """An access token through the authorization-code flow, signed in by a fresh browser."""
    browser = Browser(live.url)
    try:
        params = {
            "response_type": "code",
            "client_id": client.client.client_id,
            "redirect_uri": CALLBACK,
            "scope": scope,
            "state": "s",
            "nonce": "n",
        }
        arrival = await browser.go(
            f"{live.url}/oauth/authorize?{urlencode(params)}", username=username, password=PASSWORD
        )
        assert arrival.status_code in (302, 303), arrival.text
        code = httpx.URL(arrival.headers["location"]).params["code"]
    finally:
        await browser.close()
    async with httpx.AsyncClient(base_url=live.url, verify=TLS) as http:
        response = await http.post(
            "/oauth/token",
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK},
            auth=(client.client.client_id, client.client_secret or ""),
        )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


async def make_account(services: Services, username: str, department: str | None) -> str:
    account = await services.accounts.create_local(
        username=username, password=PASSWORD, name="王小明", phone="13800138000"
    )
    if department is not None:
        async with services.database.transaction() as session:
            await account_store.update_account(
                session, account.id, None, {"department_id": department}, services.clock.now()
            )
    return account.id


async def app_of(services: Services, name: str, redirect_uri: str, department: str) -> str:
    values = {"client_name": name, "redirect_uris": [redirect_uri], "department_id": department}
    client, _ = await apps.create_client(services, CLI, Reach.everywhere(), values)
    return client.client_id


@dataclass
class World:
    live: LiveServer
    admin_client: Registered
    city_admin: str  # account ids
    east_admin: str
    east_person: str
    west_person: str
    east_app: str  # client ids
    west_app: str
    city_token: str = ""
    east_token: str = ""

    def http(self, token: str | None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(
            base_url=self.live.url + API, headers=headers, timeout=30, verify=TLS
        )


async def build_people(settings: Settings) -> dict[str, Any]:
    """The organisation, its people and apps, written through the services (no sign-in yet):
    what a World holds besides its gateway and tokens."""
    async with second_instance(settings) as services:
        everywhere = Reach.everywhere()
        await org.create_department(services, CLI, everywhere, "city", "市", None)
        await org.create_department(services, CLI, everywhere, "east", "东区", "city")
        await org.create_department(services, CLI, everywhere, "west", "西区", "city")
        await org.create_department(services, CLI, everywhere, "east-tax", "东区税务", "east")
        admin_client = await services.clients.register(
            name="管理控制台",
            redirect_uris=[CALLBACK],
            scopes=["admin:read", "admin:write"],
            admin_console=True,
        )
        city_admin = await make_account(services, "root", None)
        east_admin = await make_account(services, "east-admin", "east")
        east_person = await make_account(services, "east-person", "east-tax")
        west_person = await make_account(services, "west-person", "west")
        await roles.grant_admin(services, CLI, city_admin, ["admin:read", "admin:write"])
        await roles.grant_admin(
            services, CLI, east_admin, ["admin:read", "admin:write"], department_id="east"
        )
        east_app = await app_of(services, "东区社保", "https://east.example/cb", "east-tax")
        west_app = await app_of(services, "西区医保", "https://west.example/cb", "west")
    return {
        "admin_client": admin_client,
        "city_admin": city_admin,
        "east_admin": east_admin,
        "east_person": east_person,
        "west_person": west_person,
        "east_app": east_app,
        "west_app": west_app,
    }


async def signed_in(live: LiveServer, people: dict[str, Any]) -> World:
    """The World on ``live`` holding ``people``, its administrators signed in there."""
    world = World(live, **people)
    world.city_token = await sign_in_token(live, world.admin_client, "root")
    world.east_token = await sign_in_token(live, world.admin_client, "east-admin")
    return world


async def build_world(live: LiveServer) -> World:
    return await signed_in(live, await build_people(live.settings))


@pytest.fixture
def seed() -> Seed:
    return Seed("admin-people", build_people)


@pytest.fixture
async def world(live_server: LiveServer, seed: Seed) -> World:
    """The admin world: its gateway starts from a copy of the people and apps (built once per
    worker and backend); the administrators sign in to it."""
    return await signed_in(live_server, live_server.seeded)
