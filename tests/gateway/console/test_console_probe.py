"""What an outside review found by attacking the running console as a hostile district
administrator would (real HTTP against a live gateway)."""

from __future__ import annotations

import pytest

from gateway.admin import org
from gateway.admin.changes import CLI
from gateway.admin.reach import Reach
from tests.gateway.console.conftest import Console, console_sign_in
from tests.gateway.helpers import second_instance

LISTS = ("/admin/accounts", "/admin/departments", "/admin/groups", "/admin/apps", "/admin/roles")


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_an_offset_of_other_digits_is_the_first_page_not_a_500(console: Console) -> None:
    # str.isdigit() holds for "²" and "①", which int() refuses: every console list answered 500.
    browser, _ = await console_sign_in(console, "east-admin")
    try:
        for path in LISTS:
            for offset in ("²", "①", "-1", "1e3", "9" * 40):
                answer = await browser.get(path, params={"offset": offset})
                assert answer.status_code == 200, (path, offset, answer.status_code)
    finally:
        await browser.aclose()


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_an_unknown_done_notice_is_no_notice_not_a_500(console: Console) -> None:
    # A page names its notice by ?done=; a name without a message was a KeyError, a 500.
    app = console.world.east_app
    pages = (
        "/admin/groups",
        "/admin/departments",
        "/admin/departments/east",
        f"/admin/apps/{app}",
        f"/admin/apps/{app}/policy",
        f"/admin/apps/{app}/claims",
        "/admin/providers",
    )
    browser, _ = await console_sign_in(console, "root")
    try:
        for path in pages:
            answer = await browser.get(path, params={"done": "<nope>"})
            assert answer.status_code == 200, (path, answer.status_code)
            assert "<nope>" not in answer.text
    finally:
        await browser.aclose()


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_a_group_page_names_no_member_outside_the_reach(console: Console) -> None:
    # A city-wide administrator may put a west person in an east group; the east page showed
    # that person's username and name, which the accounts pages hide from it (404).
    everywhere = Reach.everywhere()
    async with second_instance(console.live.settings) as services:
        await org.create_group(services, CLI, everywhere, "east-mixed", "东区混合", "east")
        for member in (console.world.west_person, console.world.east_person):
            await org.set_member(services, CLI, everywhere, "east-mixed", member, True)
    browser, _ = await console_sign_in(console, "east-admin")
    try:
        page = await browser.get("/admin/groups/east-mixed")
        assert page.status_code == 200
        assert "east-person" in page.text and "west-person" not in page.text
        assert console.world.west_person in page.text  # counted, by its id alone
    finally:
        await browser.aclose()
