"""A console edit form carries the version it was read at, and the console refuses an edit
without it (428, as RFC 6585 §3) or with an old one (412) instead of applying it over whatever
changed since."""

from __future__ import annotations

import html
import re

import httpx

from tests.gateway.browser import hidden
from tests.gateway.console.conftest import Console, console_sign_in


def _version(page: httpx.Response) -> str:
    found = re.search(r'name="version" value="([^"]*)"', page.text)
    assert found, "the edit form carries no version"
    return html.unescape(found.group(1))


async def _name(console: Console) -> str:
    async with console.world.http(console.world.east_token) as api:
        return (await api.get("/departments/east-tax")).json()["name"]


async def test_a_console_edit_without_its_version_is_refused(console: Console) -> None:
    browser, landed = await console_sign_in(console, "east-admin")
    try:
        csrf = hidden(landed.text, "csrf_token")
        rename = "/admin/departments/east-tax/rename"
        read = await browser.get("/admin/departments/east-tax")
        version = _version(read)
        unversioned = await browser.post(rename, data={"csrf_token": csrf, "name": "甲"})
        assert unversioned.status_code == 428, unversioned.status_code
        blank = await browser.post(rename, data={"csrf_token": csrf, "name": "甲", "version": ""})
        assert blank.status_code == 428, blank.status_code
        assert await _name(console) == "东区税务"
        done = await browser.post(
            rename, data={"csrf_token": csrf, "name": "乙", "version": version}
        )
        assert done.status_code == 303, done.status_code
        stale = await browser.post(
            rename, data={"csrf_token": csrf, "name": "丙", "version": version}
        )
        assert stale.status_code == 412, stale.status_code
        assert await _name(console) == "乙"
        account = f"/admin/accounts/{console.world.east_person}"
        status = await browser.post(
            f"{account}/status", data={"csrf_token": csrf, "disabled": "true"}
        )
        assert status.status_code == 428, status.status_code
        async with console.world.http(console.world.east_token) as api:
            person = (await api.get(f"/accounts/{console.world.east_person}")).json()
        assert person["disabled"] is False
    finally:
        await browser.aclose()
