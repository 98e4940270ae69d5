"""Signing in at 一号通 through a department's own OpenID provider (panva's oidc-provider, a
real independent server), ending in an ID token whose claims and acr follow the mapping."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import httpx
import pytest

from tests.gateway.browser import Browser
from tests.gateway.helpers import id_token_after, second_instance
from tests.providers import oidc_idp
from tests.support import required

CALLBACK = "https://portal.city.gov.cn/cb"
SECRET = "gateway-secret-at-the-department"


@pytest.fixture(scope="session")
def idp_install(tmp_path_factory: pytest.TempPathFactory):
    required(oidc_idp.available(), "node with npm (for the department's OpenID provider)")
    return oidc_idp.install(tmp_path_factory.mktemp("idp"))


@pytest.fixture
async def federation(live_server, idp_install):
    idp = oidc_idp.start(idp_install, "yihaotong", SECRET, f"{live_server.url}/login/callback/hr")
    try:
        async with second_instance(live_server.settings) as admin:
            await admin.login_systems.add(
                "hr",
                "oidc",
                {
                    "name": "市人社局",
                    "issuer": idp.url,
                    "client_id": "yihaotong",
                    "client_secret": SECRET,
                    "assurance": "L2",
                },
            )
            client = await admin.clients.register(name="市民门户", redirect_uris=[CALLBACK])
        yield live_server, idp, client
    finally:
        idp.stop()


async def through_the_department(
    browser: Browser, response: httpx.Response, login: str
) -> httpx.Response:
    """Play the person at the department's pages until the browser is back at 一号通."""
    for _ in range(12):
        location = response.headers.get("location")
        if response.status_code in (302, 303) and location:
            if location.startswith(browser.base_url):
                return await browser.go(location)
            response = await browser.http.get(
                location if "://" in location else str(response.request.url.join(location))
            )
            continue
        action = re.search(r'<form[^>]*action="([^"]+)"', response.text)
        assert action, response.text[:300]
        if 'name="login"' in response.text:
            form = {"prompt": "login", "login": login, "password": "department-password"}
        else:
            form = {"prompt": "consent"}
        response = await browser.http.post(action.group(1), data=form)
    raise AssertionError("never came back from the department")


@pytest.mark.slow
async def test_sign_in_through_the_departments_openid_provider(federation) -> None:
    live, idp, client = federation
    browser = Browser(live.url)
    try:
        params = {
            "response_type": "code",
            "client_id": client.client.client_id,
            "redirect_uri": CALLBACK,
            "scope": "openid profile email",
            "state": "s",
            "idp_hint": "hr",
        }
        leaving = await browser.go(f"{live.url}/oauth/authorize?{urlencode(params)}")
        assert leaving.headers["location"].startswith(f"{idp.url}/auth?")
        upstream = httpx.URL(leaving.headers["location"]).params
        assert upstream["code_challenge_method"] == "S256" and upstream["nonce"]
        arrival = await through_the_department(browser, leaving, "hr-001")
        claims = await id_token_after(live.url, client, arrival, CALLBACK)
        assert claims["name"] == "赵磊" and claims["email"] == "zhaolei@hr.city.gov.cn"
        assert claims["acr"] == "L2" and claims["amr"] == ["fed"]
        # The department's answer cannot be replayed.
        replay = await browser.http.get(str(arrival.request.url))
        assert replay.status_code in (303, 400)
    finally:
        await browser.close()


async def test_a_department_provider_that_is_down_is_named(live_server, idp_install) -> None:
    async with second_instance(live_server.settings) as admin:
        await admin.login_systems.add(
            "hr",
            "oidc",
            {
                "name": "市人社局",
                "issuer": "http://127.0.0.1:1",
                "client_id": "x",
                "client_secret": "y",
            },
        )
        client = await admin.clients.register(name="门户", redirect_uris=[CALLBACK])
    browser = Browser(live_server.url)
    try:
        params = {
            "response_type": "code",
            "client_id": client.client.client_id,
            "redirect_uri": CALLBACK,
            "scope": "openid",
            "idp_hint": "hr",
        }
        page = await browser.go(f"{live_server.url}/oauth/authorize?{urlencode(params)}")
        assert page.status_code == 503 and "市人社局的登录系统暂时无法连接" in page.text
    finally:
        await browser.close()
