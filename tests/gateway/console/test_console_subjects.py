"""Public subjects and shared pairwise sectors from the console's app forms in a real Chromium:
a city-wide administrator decides them with a reason the audit entry keeps (422 without one);
a department administrator is not offered them, and a forged form is refused as the admin
API refuses it."""

from __future__ import annotations

import html

import pytest

from gateway.admin import apps
from gateway.admin.reach import Reach
from store import audit as audit_store
from tests.gateway.browser import hidden
from tests.gateway.console.conftest import Console, console_sign_in
from tests.gateway.console.test_console_browser import every_way, signed_in_page
from tests.gateway.helpers import second_instance


async def audited(console: Console, event: str) -> list:
    async with (
        second_instance(console.live.settings) as services,
        services.database.sessions() as session,
    ):
        return await audit_store.query(session, event=event)


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_a_city_wide_administrator_gives_reasons_for_subjects_and_sectors(
    chromium, console: Console
) -> None:
    base, west_app = console.live.url, console.world.west_app
    context, page = await signed_in_page(chromium, console, "root")
    try:
        for reason in ("", "全市统一门户，需跨部门识别同一人"):
            await page.goto(f"{base}/admin/apps/new")
            await page.get_by_label("应用名称").fill("市一网通办")
            await page.get_by_label("回调地址").fill("https://portal.city.example/cb")
            await page.get_by_label("公共标识：", exact=False).check()
            await page.get_by_label("使用公共标识的理由").fill(reason)
            await page.get_by_role("button", name="注册应用").click()
            if not reason:
                assert await page.get_by_role("heading", level=1).inner_text() == "输入有误"
                assert "subject_type_reason" in await page.get_by_role("alert").inner_text()
        assert "应用已注册" in await page.get_by_role("status").inner_text()
        created = await audited(console, "admin.client.created")
        assert created[-1].details["subject_type_reason"] == "全市统一门户，需跨部门识别同一人"
        # The west app joins the east district's sector: only with a reason.
        await page.goto(f"{base}/admin/apps/{west_app}")
        await page.get_by_label("扇区（可选）").fill("east.example")
        await page.get_by_role("button", name="保存用户标识设置").click()
        assert "sector_reason" in await page.get_by_role("alert").inner_text()
        await page.goto(f"{base}/admin/apps/{west_app}")
        await page.get_by_label("扇区（可选）").fill("east.example")
        await page.get_by_label("共用其他部门扇区的理由").fill("医保与社保联合办理")
        await page.get_by_role("button", name="保存用户标识设置").click()
        assert "用户标识设置已保存。" in await page.get_by_role("status").inner_text()
        assert "east.example" in await page.locator("dl.facts").nth(1).inner_text()
        updated = (await audited(console, "admin.client.updated"))[-1]
        assert updated.details["sector_reason"] == "医保与社保联合办理"
        assert updated.details["shared_sector"]["sector"] == "east.example"
        await every_way(page, base, ["/admin/apps/new", f"/admin/apps/{west_app}"])
    finally:
        await context.close()


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_a_department_administrator_cannot_make_subjects_public(
    chromium, console: Console
) -> None:
    base, east_app = console.live.url, console.world.east_app
    context, page = await signed_in_page(chromium, console, "east-admin")
    try:
        for path in ("/admin/apps/new", f"/admin/apps/{east_app}"):
            await page.goto(base + path)
            assert await page.get_by_role("radio", name="公共标识", exact=False).count() == 0
            assert await page.get_by_label("共用其他部门扇区的理由").count() == 0
        await every_way(page, base, ["/admin/apps/new", f"/admin/apps/{east_app}"])
    finally:
        await context.close()
    browser, landed = await console_sign_in(console, "east-admin")
    try:
        csrf = hidden(landed.text, "csrf_token")
        shown = await browser.get(f"/admin/apps/{east_app}")
        forged = await browser.post(
            f"/admin/apps/{east_app}/subject",
            data={
                "csrf_token": csrf,
                "version": html.unescape(hidden(shown.text, "version")),
                "subject_type": "public",
                "subject_type_reason": "想要",
            },
        )
        assert forged.status_code == 403
    finally:
        await browser.aclose()
    async with second_instance(console.live.settings) as services:
        client = await apps.get_client(services, Reach.everywhere(), east_app)
    assert client.subject_type == "pairwise"
    denied = await audited(console, "admin.denied")
    assert denied[-1].details["operation"] == "patch_client"
