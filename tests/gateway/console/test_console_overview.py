"""概览: sign-ins per day from the audit log (succeeded, failed, locked), the apps signed in to
most, the signing keys and their age; for city-wide administrators only."""

from __future__ import annotations

import re

from gateway.admin.overview import day_starts
from store import audit as audit_store
from store.records import AuditEvent
from tests.gateway.browser import Browser
from tests.gateway.console.conftest import Console, console_sign_in
from tests.gateway.helpers import second_instance


def today_row(html: str) -> list[int]:
    rows = re.findall(r'<tr><th scope="row">[\d-]+</th>((?:<td>\d+</td>){3})</tr>', html)
    assert rows, html
    return [int(n) for n in re.findall(r"<td>(\d+)</td>", rows[0])]  # newest first


async def test_the_overview_counts_todays_sign_ins(console: Console) -> None:
    browser = Browser(console.live.url)  # one wrong password
    try:
        refused = await browser.go(f"{console.live.url}/admin/login", username="root", password="x")
        assert refused.status_code == 401 or "/login" in str(refused.url), refused.text
    finally:
        await browser.close()
    async with second_instance(console.live.settings) as services:
        # A locked sign-in yesterday is counted on its own day, not today.
        yesterday = day_starts(services.clock.now())[-2] + 3600
        async with services.database.transaction() as session:
            await audit_store.append(session, AuditEvent("login.locked", at=yesterday))
    http, landed = await console_sign_in(console, "root")
    try:
        assert landed.status_code == 200
        succeeded, failed, locked = today_row(landed.text)
        # root's and the district admin's sign-ins to the admin app, and root's to the console
        assert succeeded >= 3 and failed == 1 and locked == 0
        assert "<svg" in landed.text and 'role="img"' in landed.text
        assert "一号通管理控制台" in landed.text  # among the apps signed in to most
        assert "RS256" in landed.text  # the signing keys
    finally:
        await http.aclose()
    east, landed = await console_sign_in(console, "east-admin")
    try:
        assert "<svg" not in landed.text  # the city's figures are not a district's
    finally:
        await east.aclose()
