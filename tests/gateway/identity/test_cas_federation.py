"""Signing in at 一号通 through a department's CAS server (django-cas-server, real)."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest

from tests.gateway.browser import Browser
from tests.gateway.helpers import id_token_after, second_instance
from tests.providers import cas_idp
from tests.support import required

CALLBACK = "https://portal.city.gov.cn/cb"


@pytest.fixture
async def cas_department(live_server, tmp_path):
    required(cas_idp.available(), "django-cas-server (pip install '.[test]')")
    cas = cas_idp.start(tmp_path, f"{live_server.url}/login/callback/edu")
    try:
        async with second_instance(live_server.settings) as admin:
            await admin.login_systems.add(
                "edu",
                "cas",
                {
                    "name": "市教育局",
                    "server_url": cas.url,
                    "attributes": {"name": "first_name", "email": "email"},
                    "verified": ["email"],
                },
            )
            client = await admin.clients.register(name="市民门户", redirect_uris=[CALLBACK])
        yield live_server, cas, client
    finally:
        cas.stop()


@pytest.mark.slow
async def test_sign_in_through_the_departments_cas(cas_department) -> None:
    live, cas, client = cas_department
    browser = Browser(live.url)
    try:
        params = {
            "response_type": "code",
            "client_id": client.client.client_id,
            "redirect_uri": CALLBACK,
            "scope": "openid profile email",
            "state": "s",
        }
        page = await browser.go(f"{live.url}/oauth/authorize?{urlencode(params)}")
        start = re.search(r'href="(/login/start/edu\?tx=[^"]+)"', page.text)
        assert start and "使用市教育局账号登录" in page.text
        leaving = await browser.http.get(start.group(1).replace("&amp;", "&"))
        assert leaving.headers["location"].startswith(f"{cas.url}/login?service=")
        login_page = await browser.http.get(leaving.headers["location"])
        form = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', login_page.text))
        form.update({"username": "sunli", "password": "edu-password"})
        back = await browser.http.post(leaving.headers["location"], data=form)
        assert back.headers["location"].startswith(f"{live.url}/login/callback/edu?state=")
        arrival = await browser.go(back.headers["location"])
        claims = await id_token_after(live.url, client, arrival, CALLBACK)
        assert claims["name"] == "孙丽" and claims["email"] == "sunli@edu.city.gov.cn"
        assert claims["acr"] == "L1"
        # The callback cannot be replayed with another ticket: its state was single-use.
        forged = await browser.http.get(
            back.headers["location"].split("&ticket=")[0] + "&ticket=ST-forged"
        )
        assert forged.status_code == 400
    finally:
        await browser.close()
