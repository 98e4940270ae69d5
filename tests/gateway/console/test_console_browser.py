"""The console in a real Chromium, as a city-wide and as a district administrator, at 1280 and
375 px, in Chinese and in English: every page passes axe-core (no serious or critical WCAG 2.1
AA violation), and the actions work from the page."""

from __future__ import annotations

import sqlite3

import pytest

from tests.gateway.admin.conftest import PASSWORD
from tests.gateway.axe import assert_accessible
from tests.gateway.console.conftest import Console
from tests.gateway.console.test_console_enterprises import an_enterprise

WIDTHS = (1280, 375)
LOCALES = ("zh-CN", "en")


async def signed_in_page(chromium, console: Console, username: str):
    context = await chromium.new_context(
        viewport={"width": 1280, "height": 800}, locale="zh-CN", device_scale_factor=1
    )
    page = await context.new_page()
    await page.goto(console.live.url + "/admin/")
    await page.get_by_label("用户名").fill(username)
    await page.get_by_label("密码").fill(PASSWORD)
    await page.get_by_role("button", name="登录").click()
    await page.get_by_label("动态码").fill(console.code(username))
    await page.get_by_role("button", name="继续").click()
    await page.get_by_role("button", name="同意").click()
    await page.wait_for_url("**/admin/")
    return context, page


async def every_way(page, base: str, paths: list[str]) -> None:
    """Each page in both languages at both widths, checked by axe-core."""
    for locale in LOCALES:
        await page.goto(f"{base}/admin/?lang={locale}")
        for width in WIDTHS:
            await page.set_viewport_size({"width": width, "height": 800})
            for path in paths:
                await page.goto(base + path)
                assert await page.get_attribute("html", "lang") == locale
                await assert_accessible(page)


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_a_city_wide_administrator_in_the_browser(chromium, console: Console) -> None:
    world, base = console.world, console.live.url
    context, page = await signed_in_page(chromium, console, "root")
    try:
        assert await page.get_by_role("heading", level=1).inner_text() == "概览"
        await page.get_by_role("navigation").get_by_role("link", name="用户").click()
        await page.get_by_label("查找账号").fill("13800138000")  # a full phone number
        await page.get_by_role("button", name="搜索").click()
        rows = page.locator("tbody tr")
        assert await rows.count() == 1  # every test account has this number; one holds it
        assert "138****8000" in await rows.inner_text()
        await page.goto(f"{base}/admin/accounts?q=east")
        await page.get_by_role("link", name="east-person").click()
        await page.get_by_role("button", name="停用账号").click()
        assert "账号已停用" in await page.get_by_role("status").inner_text()
        await page.get_by_role("button", name="启用账号").click()
        assert "账号已启用" in await page.get_by_role("status").inner_text()
        await page.get_by_role("navigation").get_by_role("link", name="组织机构").click()
        await page.get_by_role("link", name="市", exact=True).click()
        await page.get_by_role("link", name="西区", exact=True).click()
        await page.get_by_label("部门名称").nth(1).fill("西区政府")  # the rename form
        await page.get_by_role("button", name="保存").click()
        assert "部门已改名" in await page.get_by_role("status").inner_text()
        assert await page.get_by_role("heading", level=1).inner_text() == "西区政府"
        await every_way(
            page,
            base,
            [
                "/admin/",
                "/admin/accounts?q=east",
                f"/admin/accounts/{world.east_person}",
                "/admin/departments",
                "/admin/departments/east-tax",
                "/admin/departments/nowhere",
                "/admin/apps",
                "/admin/roles",
                "/admin/audit?event=admin.*",
            ],
        )
    finally:
        await context.close()


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_a_district_administrator_in_the_browser(chromium, console: Console) -> None:
    world, base = console.world, console.live.url
    context, page = await signed_in_page(chromium, console, "east-admin")
    try:
        await page.get_by_role("navigation").get_by_role("link", name="组织机构").click()
        # Its tree starts at its own district; the city and the west are not there.
        assert await page.get_by_role("link", name="东区", exact=True).count() == 1
        assert await page.get_by_role("link", name="西区", exact=True).count() == 0
        await page.get_by_role("link", name="东区", exact=True).click()
        await page.get_by_label("部门编号", exact=True).fill("east-pilot")
        await page.get_by_label("部门名称").first.fill("东区试点")
        await page.get_by_role("button", name="新增").click()
        assert "部门已新增" in await page.get_by_role("status").inner_text()
        assert await page.get_by_role("heading", level=1).inner_text() == "东区试点"
        await page.get_by_role("button", name="删除部门").click()
        assert "部门已删除" in await page.get_by_role("status").inner_text()
        # What is not its own does not exist for it, as in the admin API.
        answer = await page.goto(f"{base}/admin/accounts/{world.west_person}")
        assert answer is not None and answer.status == 404
        assert await page.get_by_role("heading", level=1).inner_text() == "未找到"
        await every_way(
            page,
            base,
            [
                "/admin/",
                "/admin/accounts",
                f"/admin/accounts/{world.east_person}",
                "/admin/departments",
                "/admin/departments/east",
                f"/admin/accounts/{world.west_person}",
            ],
        )
    finally:
        await context.close()


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_a_district_administrator_onboards_an_app(chromium, console: Console) -> None:
    base = console.live.url
    context, page = await signed_in_page(chromium, console, "east-admin")
    try:
        await page.get_by_role("navigation").get_by_role("link", name="应用").click()
        assert await page.get_by_role("link", name="西区医保").count() == 0  # not its own
        await page.get_by_role("link", name="接入新应用").click()
        await page.get_by_label("应用名称").fill("东区不动产")
        await page.get_by_label("所属部门编号").fill("east-tax")
        await page.get_by_label("回调地址").fill("https://estate.east.example/login/callback")
        await page.get_by_role("button", name="注册应用").click()
        assert "应用已注册" in await page.get_by_role("status").inner_text()
        secret = await page.locator("code.secret").inner_text()
        assert len(secret) >= 43
        assert f"issuer-uri: {base}" in await page.locator("pre").inner_text()
        await assert_accessible(page)
        await page.get_by_role("link", name="完成，查看应用").click()
        assert secret not in await page.content()  # shown once, never again
        await page.get_by_role("button", name="轮换密钥").click()
        rotated = await page.locator("code.secret").inner_text()
        assert rotated != secret and len(rotated) >= 43
        app_page = page.url
        await every_way(page, base, ["/admin/apps", "/admin/apps/new"])
        assert app_page.startswith(base + "/admin/apps/")
    finally:
        await context.close()


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_a_district_administrator_grants_a_role_until_a_date(
    chromium, console: Console
) -> None:
    base = console.live.url
    context, page = await signed_in_page(chromium, console, "east-admin")
    try:
        await page.get_by_role("navigation").get_by_role("link", name="角色与授权").click()
        await page.get_by_label("角色名称").fill("filer")
        await page.get_by_label("所属应用的 client_id").fill(console.world.east_app)
        await page.get_by_role("button", name="新增").click()
        assert "角色已新增" in await page.get_by_role("status").inner_text()
        await page.get_by_label("账号（用户名）").fill("east-person")
        await page.get_by_label("适用部门编号").fill("east-tax")
        await page.get_by_label("有效期至（可选）").fill("2099-12-31")
        await page.get_by_role("button", name="授予角色").click()
        assert "角色已授予" in await page.get_by_role("status").inner_text()
        row = page.locator("tbody tr")
        assert "east-person" in await row.inner_text() and "2099-12-31" in await row.inner_text()
        role_page = page.url.split("?")[0]
        await every_way(page, base, ["/admin/roles", role_page.removeprefix(base)])
        await page.goto(role_page + "?lang=zh-CN")
        await page.get_by_role("button", name="收回 east-person").click()
        assert "角色已收回" in await page.get_by_role("status").inner_text()
    finally:
        await context.close()


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_a_district_administrator_edits_who_may_use_an_app(
    chromium, console: Console
) -> None:
    base, app = console.live.url, console.world.east_app
    context, page = await signed_in_page(chromium, console, "east-admin")
    try:
        await page.goto(f"{base}/admin/apps/{app}")
        await page.get_by_role("link", name="编辑访问策略").click()
        await page.get_by_label("工作人员", exact=True).uncheck()
        await page.get_by_label("部门编号（每行一个）").fill("east-tax")
        await page.get_by_label("预览账号（用户名）").fill("east-person")
        await page.get_by_role("button", name="预览谁能进入").click()
        assert "可以进入。" in await page.get_by_role("status").inner_text()
        await page.get_by_label("最低实名等级").select_option("L3")
        await page.get_by_role("button", name="预览谁能进入").click()
        assert "不能进入。" in await page.get_by_role("status").inner_text()
        assert (
            await page.get_by_label("工作人员", exact=True).is_checked() is False
        )  # the draft is kept
        await page.get_by_label("最低实名等级").select_option("L1")
        await page.get_by_role("button", name="保存策略").click()
        assert "访问策略已保存。" in await page.get_by_role("status").inner_text()
        assert await page.get_by_label("部门编号（每行一个）").input_value() == "east-tax"
        await every_way(page, base, [f"/admin/apps/{app}/policy"])  # ends in English
        await page.get_by_label("Preview for account (username)").fill("east-person")
        await page.get_by_role("button", name="Preview who is let in").click()
        assert "Let in." in await page.get_by_role("status").inner_text()
        await assert_accessible(page)
        await page.set_viewport_size({"width": 1280, "height": 800})
        await assert_accessible(page)
    finally:
        await context.close()


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_a_city_wide_administrator_rotates_a_signing_key(chromium, console: Console) -> None:
    base = console.live.url
    context, page = await signed_in_page(chromium, console, "root")
    try:
        await page.get_by_role("navigation").get_by_role("link", name="密钥").click()
        await page.get_by_label("强制轮换（不等待依赖方更新缓存）").check()
        await page.get_by_role("button", name="轮换签名密钥").click()
        assert "已轮换" in await page.get_by_role("status").inner_text()
        await assert_accessible(page)
        await every_way(page, base, ["/admin/keys"])
    finally:
        await context.close()


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_a_city_wide_administrator_adds_a_login_system(
    chromium, console: Console, tmp_path
) -> None:
    base = console.live.url
    database = tmp_path / "members.db"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE members (id, login, pwd)")
    context, page = await signed_in_page(chromium, console, "root")
    try:
        await page.get_by_role("navigation").get_by_role("link", name="登录方式").click()
        await page.get_by_role("link", name="新增登录方式：旧系统数据库").click()
        await page.get_by_label("编号").fill("social")
        await page.get_by_label("name", exact=True).fill("市社保局")
        await page.get_by_label("url", exact=True).fill(f"sqlite:///{database}")
        await page.get_by_label("table", exact=True).fill("members")
        await page.get_by_label("scheme", exact=True).select_option("md5")
        columns = '{"subject": "id", "username": "login", "password": "pwd"}'
        await page.get_by_label("columns", exact=True).fill(columns)
        await page.get_by_role("button", name="新增登录方式").click()
        assert "登录方式已新增。" in await page.get_by_role("status").inner_text()
        assert await page.get_by_role("heading", level=1).inner_text() == "市社保局"
        await every_way(
            page,
            base,
            [
                "/admin/providers",
                "/admin/providers/new?type=ldap",
                "/admin/providers/new?type=oidc",
                "/admin/providers/social",
            ],
        )
        await page.get_by_role("button", name="Remove the login system").click()
        assert "The login system is removed." in await page.get_by_role("status").inner_text()
    finally:
        await context.close()


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_a_city_wide_administrator_names_a_representative(chromium, console: Console) -> None:
    base = console.live.url
    org = await an_enterprise(console)
    context, page = await signed_in_page(chromium, console, "root")
    try:
        await page.get_by_role("navigation").get_by_role("link", name="法人").click()
        await page.get_by_role("link", name="东区某公司").click()
        await page.get_by_label("账号（用户名）").fill("east-person")
        await page.get_by_label("身份").select_option("representative")
        await page.get_by_role("button", name="任命").click()
        assert "已任命。" in await page.get_by_role("status").inner_text()
        await every_way(page, base, ["/admin/enterprises", f"/admin/enterprises/{org}"])
        await page.get_by_role("button", name="Revoke east-person").click()
        assert "Revoked." in await page.get_by_role("status").inner_text()
    finally:
        await context.close()
