"""The real-name page over real HTTP, seen from a relying party: the acr in its ID tokens follows
the level a person raises, an app needing a higher level sends the person to the page and gets
them back, and where the level cannot be raised here (no check configured, an enterprise
account) the app's refusal stands."""

from __future__ import annotations

import pytest

from tests.conftest import running_gateway
from tests.gateway.browser import Browser, hidden
from tests.gateway.helpers import id_token_after, second_instance
from tests.gateway.identity.test_access_policies import set_account, set_policy
from tests.gateway.real_name_service import real_name_service
from tests.gateway.recovery_flow import account_post
from tests.gateway.sso import CALLBACK, authorize_url

PASSWORD = "correct horse battery"
PAGE = "/account/real-name"
ZHANG = {"name": "张三", "national_id": "11010519491231002X"}


async def _city(live):
    async with second_instance(live.settings) as admin:
        account = await admin.accounts.create_local(username="zhang", password=PASSWORD)
        app = await admin.clients.register(name="社保服务", redirect_uris=[CALLBACK])
        strict = await admin.clients.register(name="不动产登记", redirect_uris=[CALLBACK])
        await set_policy(admin, strict.client.client_id, {"min_acr": "L2"})
    return account, app, strict


@pytest.fixture
async def city(live_server):
    account, app, strict = await _city(live_server)
    browser = Browser(live_server.url)
    try:
        yield live_server, account, app, strict, browser
    finally:
        await browser.close()


async def test_a_relying_party_sees_acr_follow_the_level(city) -> None:
    live, account, app, _, browser = city
    url = authorize_url(live.url, app.client.client_id, scope="openid")
    arrival = await browser.go(url, username="zhang", password=PASSWORD)
    assert (await id_token_after(live.url, app, arrival, CALLBACK))["acr"] == "L1"

    page = await browser.http.get(PAGE)
    assert page.status_code == 200 and "L1" in page.text
    forged = await browser.http.post(PAGE, data={"method": "id_pair", **ZHANG, "csrf_token": "x"})
    assert forged.status_code != 200 or "L2（" not in forged.text
    wrong = await account_post(
        browser, page, PAGE, method="id_pair", name="李四", national_id=ZHANG["national_id"]
    )
    assert wrong.status_code == 400 and "核验未通过" in wrong.text
    raised = await account_post(browser, page, PAGE, method="id_pair", **ZHANG)
    assert raised.status_code == 200 and "L2（已实名核验）" in raised.text

    arrival = await browser.go(url)
    assert (await id_token_after(live.url, app, arrival, CALLBACK))["acr"] == "L2"
    async with second_instance(live.settings) as admin:
        events = {e.event: e for e in await admin.audit.query(limit=100)}
        assert (await admin.accounts.get(account.id)).assurance == "L2"
    assert events["account.real_name_raised"].details["to"] == "L2"
    assert events["account.real_name_failed"].details["result"] == "mismatch"
    assert ZHANG["national_id"] not in str(events["account.real_name_raised"].details)


async def test_an_app_needing_a_higher_level_sends_the_person_to_raise_it(city) -> None:
    live, _, _, strict, browser = city
    url = authorize_url(live.url, strict.client.client_id, scope="openid")
    page = await browser.go(url, username="zhang", password=PASSWORD)
    assert page.status_code == 200 and page.request.url.path == PAGE
    assert "需要更高的实名等级" in page.text
    back = await account_post(
        browser, page, PAGE, method="id_pair", tx=hidden(page.text, "tx"), **ZHANG
    )
    assert back.status_code == 303 and back.headers["location"].startswith(
        "/oauth/authorize/resume"
    )
    arrival = await browser.go(back.headers["location"])
    assert (await id_token_after(live.url, strict, arrival, CALLBACK))["acr"] == "L2"
    # prompt=none may show no page: the refusal goes back to the app as before.
    async with second_instance(live.settings) as admin:
        other = await admin.accounts.create_local(username="li", password=PASSWORD)
    second = Browser(live.url)
    try:
        await second.go(
            authorize_url(live.url, strict.client.client_id, scope="openid", prompt="login"),
            username="li",
            password=PASSWORD,
        )
        silent = await second.http.get(
            authorize_url(live.url, strict.client.client_id, scope="openid", prompt="none")
        )
        assert "error=access_denied" in silent.headers["location"]
    finally:
        await second.close()
    assert other.assurance == "L1"


async def test_without_a_check_configured_the_refusal_stands(settings_for) -> None:
    with running_gateway(settings_for, real_name_backend="none") as live:
        _, _, strict = await _city(live)
        browser = Browser(live.url)
        try:
            page = await browser.go(
                authorize_url(live.url, strict.client.client_id),
                username="zhang",
                password=PASSWORD,
            )
            assert page.status_code == 403
        finally:
            await browser.close()


async def test_an_enterprise_account_keeps_the_refusal(settings_for) -> None:
    with running_gateway(settings_for) as live:
        account, _, strict = await _city(live)
        async with second_instance(live.settings) as admin:
            await set_account(admin, account.id, kind="legal_person")
        browser = Browser(live.url)
        try:
            page = await browser.go(
                authorize_url(live.url, strict.client.client_id),
                username="zhang",
                password=PASSWORD,
            )
            assert page.status_code == 403
            mine = await browser.http.get(PAGE)
            assert 'name="national_id"' not in mine.text
        finally:
            await browser.close()


async def test_the_city_service_checks_through_the_http_backend(settings_for) -> None:
    with real_name_service("city-secret", {ZHANG["national_id"]: ZHANG["name"]}) as service:
        overrides = {
            "real_name_backend": "http",
            "real_name_http_url": service.url,
            "real_name_http_secret": "city-secret",
        }
        with running_gateway(settings_for, **overrides) as live:
            _, _, strict = await _city(live)
            browser = Browser(live.url)
            try:
                url = authorize_url(live.url, strict.client.client_id, scope="openid")
                page = await browser.go(url, username="zhang", password=PASSWORD)
                back = await account_post(
                    browser, page, PAGE, method="id_pair", tx=hidden(page.text, "tx"), **ZHANG
                )
                arrival = await browser.go(back.headers["location"])
                claims = await id_token_after(live.url, strict, arrival, CALLBACK)
                assert claims["acr"] == "L2"
                service.failing = True
                down = await browser.http.get(PAGE)
                assert 'name="evidence"' in down.text  # L3 by 网号 is offered next
            finally:
                await browser.close()
    assert service.received[0]["method"] == "id_pair" and service.refused == 0
