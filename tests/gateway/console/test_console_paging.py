"""Long lists a page at a time: the roles, a role's holders and the groups of a department go
on past their first 50, and the link to the next page keeps the filter the list was asked with."""

from __future__ import annotations

import html
import re

import pytest

from gateway.admin import org, roles
from gateway.admin.changes import CLI
from gateway.admin.reach import Reach
from tests.gateway.console.conftest import Console, console_sign_in
from tests.gateway.helpers import second_instance

MANY = 51


def next_page(text: str) -> str | None:
    found = re.search(r'<a href="(\?[^"]*)">(?:下一页|Next)', text)
    return html.unescape(found.group(1)) if found else None


async def a_long_organisation(console: Console) -> str:
    """``MANY`` global roles, ``MANY`` groups in east-tax, and a role held in ``MANY`` departments
    of the east district by one person."""
    everywhere = Reach.everywhere()
    async with second_instance(console.live.settings) as services:
        held = (await roles.create_role(services, CLI, everywhere, "holder")).id
        for n in range(MANY):
            await roles.create_role(services, CLI, everywhere, f"r{n:02}")
            await org.create_group(services, CLI, everywhere, f"g{n:02}", "组", "east-tax")
            await org.create_department(services, CLI, everywhere, f"d{n:02}", "科", "east-tax")
            await roles.assign(
                services, CLI, everywhere, console.world.east_person, held, f"d{n:02}"
            )
    return held


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_long_lists_go_on_past_their_first_page(console: Console) -> None:
    held = await a_long_organisation(console)
    browser, _ = await console_sign_in(console, "east-admin")
    try:
        lists = {
            "/admin/roles": r'href="/admin/roles/[^"]+"',
            f"/admin/roles/{held}": r'<td><a href="/admin/accounts/',
            "/admin/groups?department=east-tax": r'<td><a href="/admin/groups/',
        }
        for path, row in lists.items():
            first = await browser.get(path)
            assert first.status_code == 200
            assert len(re.findall(row, first.text)) == 50
            link = next_page(first.text)
            assert link is not None and link.endswith("offset=50")
            if "department=" in path:
                assert "department=east-tax" in link
            second = await browser.get(path.split("?")[0] + link)
            assert second.status_code == 200
            assert len(re.findall(row, second.text)) >= 1 and next_page(second.text) is None
            assert "下一页" not in second.text and "上一页" in second.text
    finally:
        await browser.aclose()
