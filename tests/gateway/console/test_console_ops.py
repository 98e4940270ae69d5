"""The console's operations in a real Chromium: an app's lifecycle (an onboarded app starts as
a draft), a login system tested, disabled and enabled, and an account's one session ended and
password reset; the pages pass axe-core at 1280 and 375 px, in Chinese and in English."""

from __future__ import annotations

import pytest

from tests.gateway.admin.conftest import PASSWORD
from tests.gateway.axe import assert_accessible
from tests.gateway.browser import Browser
from tests.gateway.console.conftest import Console
from tests.gateway.console.test_console_browser import every_way, signed_in_page
from tests.gateway.helpers import second_instance
from tests.gateway.identity.test_access_policies import CALLBACK, authorize_url
from tests.gateway.recovery_flow import give_phone
from tests.gateway.sms_flow import outbox

FAR = {"name": "远方统一认证", "server_url": "https://127.0.0.1:9/cas"}


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_an_apps_lifecycle_in_the_browser(chromium, console: Console) -> None:
    base, app = console.live.url, console.world.east_app
    context, page = await signed_in_page(chromium, console, "east-admin")
    try:
        await page.goto(f"{base}/admin/apps/{app}")
        assert "已上线" in await page.locator("dl.facts").first.inner_text()
        await page.get_by_role("button", name="暂停").click()
        assert "应用已暂停。" in await page.get_by_role("status").inner_text()
        assert "已暂停" in await page.locator("dl.facts").first.inner_text()
        await assert_accessible(page)
        await page.get_by_role("button", name="上线").click()
        assert "应用已上线。" in await page.get_by_role("status").inner_text()
        # An app onboarded here starts as a draft, and goes live from its page.
        await page.goto(f"{base}/admin/apps/new")
        await page.get_by_label("应用名称").fill("东区公积金")
        await page.get_by_label("所属部门编号").fill("east-tax")
        await page.get_by_label("回调地址").fill("https://fund.east.example/cb")
        await page.get_by_role("button", name="注册应用").click()
        assert "草稿" in await page.locator("main").inner_text()
        await page.get_by_role("link", name="完成，查看应用").click()
        assert "草稿" in await page.locator("dl.facts").first.inner_text()
        draft_page = page.url.removeprefix(base)
        await page.get_by_role("button", name="上线").click()
        assert "应用已上线。" in await page.get_by_role("status").inner_text()
        await page.get_by_role("button", name="永久下线").click()
        assert "应用已下线。" in await page.get_by_role("status").inner_text()
        assert await page.get_by_role("button", name="上线").count() == 0  # final
        await every_way(page, base, [f"/admin/apps/{app}", draft_page])
    finally:
        await context.close()


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_a_login_system_tested_and_switched_in_the_browser(
    chromium, console: Console
) -> None:
    base = console.live.url
    async with console.world.http(console.world.city_token) as api:
        added = await api.post("/providers", json={"id": "far", "type": "cas", "config": FAR})
        assert added.status_code == 201
    context, page = await signed_in_page(chromium, console, "root")
    try:
        await page.goto(f"{base}/admin/providers/far")
        await page.get_by_role("button", name="测试连接").click()
        result = await page.get_by_role("status").inner_text()
        assert "登录方式连接失败。" in result and "unreachable" in result
        await assert_accessible(page)
        await page.get_by_role("button", name="停用登录方式").click()
        assert "登录方式已停用。" in await page.get_by_role("status").inner_text()
        assert "已停用" in await page.locator("dl.facts").first.inner_text()
        await page.goto(f"{base}/admin/providers")
        assert "已停用" in await page.locator("tbody").inner_text()
        await page.goto(f"{base}/admin/providers/far")
        await page.get_by_role("button", name="启用登录方式").click()
        assert "登录方式已启用。" in await page.get_by_role("status").inner_text()
        await every_way(page, base, ["/admin/providers", "/admin/providers/far"])
    finally:
        await context.close()


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_one_session_ended_and_a_password_reset_in_the_browser(
    chromium, console: Console
) -> None:
    world, base = console.world, console.live.url
    async with second_instance(console.live.settings) as services:
        app = await services.clients.register(name="东区办事", redirect_uris=[CALLBACK])
        await give_phone(services, world.east_person, "13912345678")
    people = [Browser(base), Browser(base)]
    people[0].http.headers["X-Forwarded-For"] = "113.118.113.77"  # through the trusted proxy
    try:
        for person in people:
            arrival = await person.go(
                authorize_url(base, app.client.client_id), username="east-person", password=PASSWORD
            )
            assert arrival.status_code in (302, 303)
    finally:
        for person in people:
            await person.close()
    context, page = await signed_in_page(chromium, console, "east-admin")
    try:
        account = f"/admin/accounts/{world.east_person}"
        await page.goto(base + account)
        assert await page.locator("tbody tr").count() == 2
        regions = await page.locator("tbody").inner_text()
        assert "广东省 深圳市" in regions and "本机" in regions  # where each signed in
        await every_way(page, base, [account])
        await page.goto(base + account + "?lang=zh-CN")
        await page.get_by_role("button", name="结束").first.click()
        assert "会话已结束。" in await page.get_by_role("status").inner_text()
        assert await page.locator("tbody tr").count() == 1
        await page.get_by_role("button", name="重置密码").click()
        assert "密码已重置" in await page.get_by_role("status").inner_text()
        assert await page.locator("tbody tr").count() == 0  # every session ended with it
        sent = [m for m in outbox(console.live.settings.data_dir) if m["phone"] == "13912345678"]
        assert len(sent) == 1 and PASSWORD not in sent[0]["text"]
        assert sent[0]["text"].startswith("【一号通】管理员已重置您的账号密码")  # the console's
        # In English, the console offers the SMS in English; the administrator may choose.
        await page.goto(base + account + "?lang=en")
        assert await page.get_by_label("Language of the SMS").input_value() == "en"
        await page.get_by_role("button", name="Reset the password").click()
        await page.get_by_label("Language of the SMS").select_option("zh-CN")
        await page.get_by_role("button", name="Reset the password").click()
        sent = [m for m in outbox(console.live.settings.data_dir) if m["phone"] == "13912345678"]
        assert [m["text"][:30] for m in sent[1:]] == [
            "[Yihaotong] An administrator r",
            "【一号通】管理员已重置您的账号密码，原密码已失效。请打开 h",
        ]
        assert f"{base}/account/" in sent[1]["text"] and "Forgot your password?" in sent[1]["text"]
        await page.goto(base + account + "?lang=zh-CN")
        # Without a verified phone, the page says so instead of offering the reset.
        await page.goto(f"{base}/admin/accounts/{console.plain}")
        assert await page.get_by_role("button", name="重置密码").count() == 0
        assert "没有已验证的手机号" in await page.locator("main").inner_text()
    finally:
        await context.close()
