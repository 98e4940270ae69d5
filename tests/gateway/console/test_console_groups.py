"""群组 in a real Chromium: a district administrator keeps its own groups and their members,
renames and moves them inside its district and never sees another district's (404, as the
admin API answers); a city-wide administrator adds a city-wide group and makes another one
city-wide. Every page passes axe-core in both languages at both widths."""

from __future__ import annotations

import pytest

from gateway.admin import org
from gateway.admin.changes import CLI
from gateway.admin.reach import Reach
from store import audit as audit_store
from tests.gateway.console.conftest import Console
from tests.gateway.console.test_console_browser import every_way, signed_in_page
from tests.gateway.helpers import second_instance


async def a_west_group(console: Console) -> str:
    async with second_instance(console.live.settings) as services:
        made = await org.create_group(
            services, CLI, Reach.everywhere(), "west-nurses", "西区护士", "west"
        )
    return made.id


async def admin_events(console: Console, prefix: str) -> list[tuple[str, str | None, dict]]:
    async with (
        second_instance(console.live.settings) as services,
        services.database.sessions() as session,
    ):
        events = await audit_store.query(session, event=f"{prefix}*")
    return [(e.event, e.target, e.details) for e in events]


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_a_district_administrator_keeps_its_groups(chromium, console: Console) -> None:
    base, world = console.live.url, console.world
    west_group = await a_west_group(console)
    context, page = await signed_in_page(chromium, console, "east-admin")
    try:
        await page.get_by_role("navigation").get_by_role("link", name="群组").click()
        assert await page.get_by_role("link", name="西区护士").count() == 0  # not its own
        await page.get_by_label("群组编号").fill("east-clerks")
        await page.get_by_label("群组名称").fill("东区办事员")
        await page.get_by_label("所属部门编号").fill("east-tax")
        await page.get_by_role("button", name="新增").click()
        assert "群组已新增。" in await page.get_by_role("status").inner_text()
        assert await page.get_by_role("heading", level=1).inner_text() == "东区办事员"
        await page.get_by_label("查找账号（用户名或姓名开头）").fill("east-p")
        await page.get_by_role("button", name="搜索").click()
        assert await page.get_by_role("button", name="添加 west-person").count() == 0
        await page.get_by_role("button", name="添加 east-person").click()
        assert "成员已添加。" in await page.get_by_role("status").inner_text()
        members = page.locator("tbody tr")
        assert await members.count() == 1 and "east-person" in await members.inner_text()
        group_page = page.url.split("?")[0].removeprefix(base)
        await every_way(
            page,
            base,
            ["/admin/groups", "/admin/groups?department=east-tax", group_page + "?find=east"],
        )
        await page.goto(base + group_page + "?lang=zh-CN")
        await page.get_by_role("button", name="移除 east-person").click()
        assert "成员已移除。" in await page.get_by_role("status").inner_text()
        assert await page.locator("tbody tr").count() == 0
        # Renamed and moved up to its district, at the version read; never out of it.
        await page.get_by_label("群组名称").fill("东区窗口")
        await page.get_by_label("所属部门编号").fill("east")
        await page.get_by_role("button", name="保存").click()
        assert "群组已修改。" in await page.get_by_role("status").inner_text()
        assert await page.get_by_role("heading", level=1).inner_text() == "东区窗口"
        assert "east-tax" not in await page.locator("dl.facts").inner_text()
        await page.get_by_label("所属部门编号").fill("west")
        async with page.expect_navigation() as moved:
            await page.get_by_role("button", name="保存").click()
        assert (await moved.value).status == 422
        assert "department_id" in await page.get_by_role("alert").inner_text()
        # Another district's group does not exist for it, as in the admin API.
        answer = await page.goto(f"{base}/admin/groups/{west_group}")
        assert answer is not None and answer.status == 404
        assert await page.get_by_role("heading", level=1).inner_text() == "未找到"
        await page.goto(base + group_page)
        await page.get_by_role("button", name="删除群组").click()
        assert "群组已删除。" in await page.get_by_role("status").inner_text()
        assert await page.get_by_role("link", name="东区办事员").count() == 0
    finally:
        await context.close()
    events = [e for e in await admin_events(console, "admin.group.") if e[1] == "east-clerks"]
    assert [(e, target) for e, target, _ in events] == [
        ("admin.group.created", "east-clerks"),
        ("admin.group.member_added", "east-clerks"),
        ("admin.group.member_removed", "east-clerks"),
        ("admin.group.updated", "east-clerks"),
        ("admin.group.deleted", "east-clerks"),
    ]
    assert events[1][2]["account_id"] == world.east_person
    changed = events[3][2]  # names are masked in the log
    assert "name" in changed["after"]
    assert (changed["before"]["department_id"], changed["after"]["department_id"]) == (
        "east-tax",
        "east",
    )


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_a_city_wide_administrator_adds_a_city_wide_group(chromium, console: Console) -> None:
    base = console.live.url
    west_group = await a_west_group(console)
    context, page = await signed_in_page(chromium, console, "root")
    try:
        await page.get_by_role("navigation").get_by_role("link", name="群组").click()
        assert await page.get_by_role("link", name="西区护士").count() == 1
        await page.get_by_label("群组编号").fill("city-volunteers")
        await page.get_by_label("群组名称").fill("全市志愿者")
        await page.get_by_role("button", name="新增").click()
        assert "群组已新增。" in await page.get_by_role("status").inner_text()
        assert "全市" in await page.locator("dl.facts").inner_text()
        await page.get_by_label("查找账号（用户名或姓名开头）").fill("west-person")
        await page.get_by_role("button", name="搜索").click()
        await page.get_by_role("button", name="添加 west-person").click()
        assert "成员已添加。" in await page.get_by_role("status").inner_text()
        await every_way(
            page, base, ["/admin/groups", f"/admin/groups/{west_group}", "/admin/groups/nothing"]
        )
        await page.goto(f"{base}/admin/groups/city-volunteers")
        await page.get_by_role("button", name="Remove the group").click()
        assert "The group is removed." in await page.get_by_role("status").inner_text()
        # Another district's group renamed and made city-wide (an empty department).
        await page.goto(f"{base}/admin/groups/{west_group}")
        await page.get_by_label("Group name").fill("City nurses")
        await page.get_by_label("Owning department id").fill("")
        await page.get_by_role("button", name="Save").click()
        assert "The group is changed." in await page.get_by_role("status").inner_text()
        assert "The whole city" in await page.locator("dl.facts").inner_text()
        assert await page.get_by_role("heading", level=1).inner_text() == "City nurses"
    finally:
        await context.close()
