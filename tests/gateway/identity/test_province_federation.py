"""Signing in at 一号通 through the province's ticket-style platform (a small platform on a real
socket): the platform's real-name level becomes the acr, so an app requiring L3 admits a person
the province verified at level 3 without another check; the platform's errors give a clear page."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import httpx
import pytest

from store import client_policies
from tests.gateway.browser import Browser
from tests.gateway.helpers import id_token_after, second_instance
from tests.providers.province_platform import APP_ID, APP_SECRET, PERSON, RunningPlatform

CALLBACK = "https://tax.city.gov.cn/cb"


@pytest.fixture
async def province(live_server):
    with RunningPlatform() as platform:
        async with second_instance(live_server.settings) as admin:
            await admin.login_systems.add(
                "prov",
                "province",
                {
                    "name": "省统一身份认证平台",
                    "base_url": platform.url,
                    "app_id": APP_ID,
                    "app_secret": APP_SECRET,
                },
            )
            app = await admin.clients.register(name="电子税务局", redirect_uris=[CALLBACK])
            async with admin.database.transaction() as session:
                await client_policies.put_policy(
                    session, app.client.client_id, {"min_acr": "L3"}, None, 0.0
                )
        yield live_server, platform, app


async def through_the_platform(live, app) -> tuple[Browser, object]:
    """Start at the app, choose the province, come back: the response after the callback."""
    browser = Browser(live.url)
    params = {
        "response_type": "code",
        "client_id": app.client.client_id,
        "redirect_uri": CALLBACK,
        "scope": "openid profile",
        "state": "s",
    }
    page = await browser.go(f"{live.url}/oauth/authorize?{urlencode(params)}")
    start = re.search(r'href="(/login/start/prov\?tx=[^"]+)"', page.text)
    assert start, page.text
    leaving = await browser.http.get(start.group(1).replace("&amp;", "&"))
    assert leaving.headers["location"].startswith(f"{live_platform_url(leaving)}/login?appId=")
    async with httpx.AsyncClient() as platform_side:
        back = await platform_side.get(leaving.headers["location"])
    assert back.headers["location"].startswith(f"{live.url}/login/callback/prov?state=")
    return browser, await browser.go(back.headers["location"])


def live_platform_url(response) -> str:
    location = response.headers["location"]
    return location.split("/login?")[0]


@pytest.mark.slow
async def test_a_person_verified_at_level_3_enters_an_l3_app(province) -> None:
    live, platform, app = province
    browser, arrival = await through_the_platform(live, app)
    try:
        claims = await id_token_after(live.url, app, arrival, CALLBACK)
    finally:
        await browser.close()
    assert claims["acr"] == "L3" and claims["name"] == PERSON["name"]
    assert not platform.refused


@pytest.mark.slow
async def test_a_level_2_person_is_not_let_into_an_l3_app(province) -> None:
    live, platform, app = province
    platform.user = {**PERSON, "userId": "P-2002", "authLevel": "2"}
    browser, arrival = await through_the_platform(live, app)
    await browser.close()
    # Asked to sign in at a level the province did not vouch for, not let through.
    assert arrival.status_code == 200 and "code=" not in arrival.headers.get("location", "")
    assert "需要更高等级的登录（L3）" in arrival.text


@pytest.mark.slow
async def test_an_expired_ticket_gives_a_clear_page_and_is_audited(province) -> None:
    live, platform, app = province
    platform.ticket_seconds = -1
    browser, page = await through_the_platform(live, app)
    await browser.close()
    assert page.status_code == 400
    assert "在省统一身份认证平台的登录没有完成" in page.text
    async with second_instance(live.settings) as admin:
        failed = await admin.audit.query(event="login.failed")
    assert [e.details["reason"] for e in failed] == ["upstream_failed"]
    assert platform.refused == ["ticket"]


@pytest.mark.slow
async def test_a_verified_id_number_links_to_the_same_account(province) -> None:
    live, platform, l3_app = province
    async with second_instance(live.settings) as admin:
        open_app = await admin.clients.register(name="办事指南", redirect_uris=[CALLBACK])
    subjects = []
    for user_id, level in (("P-1001", "3"), ("P-1001-renumbered", "3"), ("P-3003", "1")):
        platform.user = {**PERSON, "userId": user_id, "authLevel": level}
        # A self-declared (level 1) ID number neither links nor passes an L3 app.
        app = l3_app if level == "3" else open_app
        browser, arrival = await through_the_platform(live, app)
        try:
            claims = await id_token_after(live.url, app, arrival, CALLBACK)
        finally:
            await browser.close()
        subjects.append((claims["sub"], claims["acr"]))
    assert subjects[0] == subjects[1] == (subjects[0][0], "L3")
    assert subjects[2][0] != subjects[0][0] and subjects[2][1] == "L1"


@pytest.mark.slow
async def test_an_unreachable_platform_gives_the_unavailable_page(province) -> None:
    live, platform, app = province
    platform.down = True
    browser, page = await through_the_platform(live, app)
    await browser.close()
    assert page.status_code == 503 and "省统一身份认证平台" in page.text
    async with second_instance(live.settings) as admin:
        failed = await admin.audit.query(event="login.failed")
    assert [e.details["reason"] for e in failed] == ["upstream_down"]
