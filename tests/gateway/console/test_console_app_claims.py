"""An app's roles and the claims its tokens carry, on its console pages in a real Chromium: a
district administrator defines, describes and removes an app role and names the roles claim;
restricted claims are for a city-wide administrator to approve, as the admin API rules. Every
page passes axe-core in both languages at both widths."""

from __future__ import annotations

import pytest

from gateway.admin import apps, roles
from gateway.admin.changes import CLI
from gateway.admin.reach import Reach
from tests.gateway.console.conftest import Console
from tests.gateway.console.test_console_browser import every_way, signed_in_page
from tests.gateway.helpers import second_instance


async def stored_claims(console: Console, client_id: str) -> dict:
    async with second_instance(console.live.settings) as services:
        policy = await apps.get_policy(services, Reach.everywhere(), client_id)
    return apps.document_of(policy).claims.model_dump()


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_a_district_administrator_edits_an_apps_roles_and_claims(
    chromium, console: Console
) -> None:
    base, app, west_app = console.live.url, console.world.east_app, console.world.west_app
    async with second_instance(console.live.settings) as services:
        await roles.create_role(services, CLI, Reach.everywhere(), "clerk", "办事员")
    context, page = await signed_in_page(chromium, console, "east-admin")
    try:
        await page.goto(f"{base}/admin/apps/{app}")
        await page.get_by_label("新角色名称").fill("filer")
        await page.get_by_role("button", name="新增应用角色").click()
        assert "角色已新增。" in await page.get_by_role("status").inner_text()
        await page.get_by_label("说明").fill("报税员")  # the role's change form
        await page.get_by_role("button", name="保存").click()
        assert "角色已修改。" in await page.get_by_role("status").inner_text()
        role_page = page.url.split("?")[0].removeprefix(base)
        await page.goto(f"{base}/admin/apps/{app}")
        assert await page.get_by_role("link", name="filer").count() == 1
        await page.get_by_role("link", name="编辑声明").click()
        # Restricted claims are shown, not changed, by a district administrator.
        assert await page.get_by_role("checkbox", name="national_id").is_disabled()
        await page.get_by_role("checkbox", name="clerk").check()
        await page.get_by_label("roles 的名称").fill("authorities")
        await page.get_by_role("button", name="保存声明").click()
        assert "声明设置已保存。" in await page.get_by_role("status").inner_text()
        assert await page.get_by_label("roles 的名称").input_value() == "authorities"
        claims = await stored_claims(console, app)
        assert claims == {
            "global_roles": ["clerk"],
            "restricted": [],
            "rename": {"roles": "authorities"},
        }
        await page.get_by_label("groups 的名称").fill("iss")  # the token's issuer
        await page.get_by_role("button", name="保存声明").click()
        assert await page.get_by_role("heading", level=1).inner_text() == "输入有误"
        assert await stored_claims(console, app) == claims  # nothing half-written
        answer = await page.goto(f"{base}/admin/apps/{west_app}/claims")
        assert answer is not None and answer.status == 404
        await every_way(page, base, [f"/admin/apps/{app}", f"/admin/apps/{app}/claims", role_page])
        await page.goto(base + role_page + "?lang=zh-CN")
        await page.get_by_role("button", name="删除角色").click()
        assert "角色已删除。" in await page.get_by_role("status").inner_text()
        assert page.url.split("?")[0] == f"{base}/admin/apps/{app}"
        assert await page.get_by_role("link", name="filer").count() == 0
    finally:
        await context.close()


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_a_city_wide_administrator_approves_a_restricted_claim(
    chromium, console: Console
) -> None:
    base, app = console.live.url, console.world.west_app
    context, page = await signed_in_page(chromium, console, "root")
    try:
        await page.goto(f"{base}/admin/apps/{app}/claims")
        await page.get_by_role("checkbox", name="national_id").check()
        await page.get_by_role("button", name="保存声明").click()
        assert "声明设置已保存。" in await page.get_by_role("status").inner_text()
        assert (await stored_claims(console, app))["restricted"] == ["national_id"]
        await page.get_by_role("link", name="西区医保").click()
        assert "national_id" in await page.locator("dl.facts").nth(1).inner_text()
        await every_way(page, base, [f"/admin/apps/{app}/claims"])
    finally:
        await context.close()
