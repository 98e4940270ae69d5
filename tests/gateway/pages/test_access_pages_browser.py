"""The pages of per-app access in a real Chromium: the code a second factor asks for, the
act-for choice and the denial page all lead back to the app (browsers apply a page's CSP
form-action to the redirects after a form, so each page must allow the app's origin)."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlencode, urlsplit

import pyotp
import pytest
import sqlalchemy as sa

from store import client_policies
from store.tables import AccountRow
from tests.conftest import running_gateway
from tests.gateway.helpers import second_instance
from tests.gateway.pages.test_login_page_browser import (
    CALLBACK,
    PASSWORD,
    open_login,
    reached_callback,
)


def authorize_url(base: str, client_id: str) -> str:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": CALLBACK,
        "scope": "openid",
        "state": "s9",
    }
    return f"{base}/oauth/authorize?{urlencode(params)}"


@pytest.fixture
async def city(settings_for):
    """zhang: staff of an enterprise, with an authenticator app; an app that needs MFA and
    offers acting for enterprises; an app open to civil servants only."""
    with running_gateway(settings_for) as live:
        async with second_instance(live.settings) as admin:
            zhang = await admin.accounts.create_local(
                username="zhang", password=PASSWORD, name="张伟"
            )
            firm = await admin.accounts.create_local(
                username="firm", password=PASSWORD, name="某某科技有限公司"
            )
            async with admin.database.transaction() as session:
                await session.execute(
                    sa.update(AccountRow)
                    .where(AccountRow.id == firm.id)
                    .values(kind="legal_person")
                )
            firm = await admin.accounts.get(firm.id)
            await admin.delegations.appoint(
                firm, zhang, "staff", ["filer"], None, actor="city-admin", actor_position=None
            )
            secret, _ = await admin.otp.begin(zhang.id, "zhang")
            totp = pyotp.TOTP(secret)
            assert await admin.otp.verify(zhang.id, totp.now(), confirming=True)
            strict = await admin.clients.register(name="企业办税", redirect_uris=[CALLBACK])
            staff_only = await admin.clients.register(name="内部办公", redirect_uris=[CALLBACK])
            async with admin.database.transaction() as session:
                await client_policies.put_policy(
                    session, strict.client.client_id, {"mfa": True, "act_for": True}, None, 0
                )
                await client_policies.put_policy(
                    session, staff_only.client.client_id, {"kinds": ["staff"]}, None, 0
                )
        yield live, totp, strict.client.client_id, staff_only.client.client_id


async def test_second_factor_and_act_for_lead_back_to_the_app(chromium, city) -> None:
    live, totp, strict, _ = city
    context, page, arrived = await open_login(chromium, authorize_url(live.url, strict))
    try:
        await page.get_by_label("用户名").fill("zhang")
        await page.get_by_label("密码").fill(PASSWORD)
        await page.get_by_role("button", name="登录").click()
        code_field = page.get_by_label("动态码")
        assert await code_field.get_attribute("autocomplete") == "one-time-code"
        await code_field.fill(totp.at(time.time() + 30))  # the enrolment used the current one
        await page.get_by_role("button", name="继续").click()
        await page.get_by_label("某某科技有限公司（经办人）").check()
        await page.get_by_role("button", name="继续").click()
        callback = await reached_callback(arrived)
        assert "code=" in callback and "state=s9" in callback
    finally:
        await context.close()


async def test_the_denial_page_sends_access_denied_to_the_app(chromium, city) -> None:
    live, _, _, staff_only = city
    context, page, arrived = await open_login(chromium, authorize_url(live.url, staff_only))
    try:
        await page.get_by_label("用户名").fill("zhang")
        await page.get_by_label("密码").fill(PASSWORD)
        await page.get_by_role("button", name="登录").click()
        assert "该应用不向您这一类账号开放" in await page.get_by_role("alert").inner_text()
        await page.get_by_role("link", name="返回应用").click()
        query = parse_qs(urlsplit(await reached_callback(arrived)).query)
        assert query["error"] == ["access_denied"] and query["state"] == ["s9"]
        assert "code" not in query
    finally:
        await context.close()
