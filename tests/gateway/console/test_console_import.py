"""批量导入 in the console: upload, the dry run's report of every failing row, confirm, the
import's report; in Chromium as a district administrator at 1280 and 375 px in Chinese and
English (axe-core), and over HTTP: CSRF, a checked file bound to its console session and used
once, and the read-only administrator refused as the API refuses it."""

from __future__ import annotations

import io
import zipfile

import pytest
from openpyxl import Workbook

from gateway.admin import roles
from gateway.admin.changes import CLI
from store import audit as audit_store
from store import organisation
from tests.gateway.admin.conftest import make_account
from tests.gateway.axe import assert_accessible
from tests.gateway.browser import hidden
from tests.gateway.console.conftest import Console, console_sign_in, enrol
from tests.gateway.console.test_console_browser import WIDTHS, every_way, signed_in_page
from tests.gateway.helpers import second_instance

GOOD = "编码,名称,上级编码\neast-a,东区甲街道,east\neast-a-1,甲社区,east-a\n".encode()
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BAD = GOOD + "west-a,西区乙街道,west\n,无编码,east\n".encode()


def upload(name: str, data: bytes) -> dict:
    return {"name": name, "mimeType": "text/csv", "buffer": data}


async def check(page, kind: str, name: str, data: bytes) -> None:
    await page.locator(f"#file-{kind}").set_input_files(upload(name, data))
    form = page.locator(f"form[action='/admin/import/{kind}']")
    await form.locator("button[type=submit]").click()


async def accessible_at_both_widths(page) -> None:
    for width in WIDTHS:
        await page.set_viewport_size({"width": width, "height": 800})
        await assert_accessible(page)


async def department(console: Console, department_id: str):
    async with (
        second_instance(console.live.settings) as services,
        services.database.sessions() as session,
    ):
        return await organisation.get_department(session, department_id)


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_a_district_administrator_imports_departments_in_the_browser(
    chromium, console: Console
) -> None:
    base = console.live.url
    context, page = await signed_in_page(chromium, console, "east-admin")
    try:
        await page.get_by_role("navigation").get_by_role("link", name="批量导入").click()
        await check(page, "departments", "org.csv", BAD)
        assert "4 行中有 2 行不能导入" in await page.get_by_role("alert").inner_text()
        rows = page.get_by_role("table", name="不能导入的行").locator("tbody tr")
        assert await rows.count() == 2
        assert (await rows.nth(0).inner_text()).startswith("4")  # the spreadsheet's row number
        assert "west" in await rows.nth(0).inner_text()
        assert await page.get_by_role("button", name="确认导入").count() == 0
        await accessible_at_both_widths(page)
        assert await department(console, "east-a") is None

        await page.goto(f"{base}/admin/import")
        await check(page, "departments", "org.csv", GOOD)
        assert "将新建 2 条" in await page.get_by_role("status").inner_text()
        await accessible_at_both_widths(page)
        assert await department(console, "east-a") is None  # checked, not kept
        await page.get_by_role("button", name="确认导入").click()
        assert "已导入：新建 2 条" in await page.get_by_role("status").inner_text()
        assert (await department(console, "east-a-1")).path == "/city/east/east-a/east-a-1"
        await accessible_at_both_widths(page)

        await page.goto(f"{base}/admin/import?lang=en")
        await check(page, "departments", "org.csv", GOOD)  # the second run changes nothing
        assert "0 to create, 2 exist already" in await page.get_by_role("status").inner_text()
        await accessible_at_both_widths(page)
        await every_way(page, base, ["/admin/import"])
    finally:
        await context.close()


async def test_the_confirmation_is_one_use_bound_to_the_session_and_needs_csrf(
    console: Console,
) -> None:
    http, _ = await console_sign_in(console, "east-admin")
    other, _ = await console_sign_in(console, "root")
    try:
        page = await http.get("/admin/import")
        csrf = hidden(page.text, "csrf_token")
        files = {"file": ("org.csv", GOOD, "text/csv")}
        forged = await http.post("/admin/import/departments", data={}, files=files)
        assert forged.status_code == 403
        checked = await http.post(
            "/admin/import/departments", data={"csrf_token": csrf}, files=files
        )
        assert checked.status_code == 200, checked.text
        token = hidden(checked.text, "token")
        other_csrf = hidden((await other.get("/admin/import")).text, "csrf_token")
        stolen = await other.post(
            "/admin/import/departments/confirm", data={"csrf_token": other_csrf, "token": token}
        )
        assert stolen.status_code == 404  # taken, and not this session's: gone for both
        again = await http.post(
            "/admin/import/departments/confirm", data={"csrf_token": csrf, "token": token}
        )
        assert again.status_code == 404
        assert await department(console, "east-a") is None
        huge = {"file": ("big.csv", b"id,name\n" + b"x" * (3 * 1024 * 1024), "text/csv")}
        too_big = await http.post(
            "/admin/import/departments", data={"csrf_token": csrf}, files=huge
        )
        assert too_big.status_code == 413
    finally:
        await http.aclose()
        await other.aclose()


async def test_a_read_only_administrator_is_refused_as_by_the_api(console: Console) -> None:
    async with second_instance(console.live.settings) as services:
        reader = await make_account(services, "reader", "east")
        await roles.grant_admin(services, CLI, reader, ["admin:read"], department_id="east")
        console.codes["reader"] = await enrol(services, reader, "reader")
    http, _ = await console_sign_in(console, "reader")
    try:
        assert (await http.get("/admin/import")).status_code == 403
        assert "/admin/import" not in (await http.get("/admin/")).text  # not in the navigation
    finally:
        await http.aclose()
    async with (
        second_instance(console.live.settings) as services,
        services.database.sessions() as session,
    ):
        denied = await audit_store.query(session, event="admin.denied", actor=reader, limit=5)
    assert [e.details["operation"] for e in denied] == ["import_departments"]


def workbook_bomb(cells: int) -> bytes:
    """A small .xlsx whose one sheet unpacks to ``cells`` cells on a single row."""
    book = Workbook()
    book.active.append(["编码", "名称"])
    packed = io.BytesIO()
    book.save(packed)
    source = zipfile.ZipFile(io.BytesIO(packed.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bomb:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                row = '<row r="2">' + '<c t="inlineStr"><is><t>x</t></is></c>' * cells + "</row>"
                data = data.replace(b"</sheetData>", row.encode() + b"</sheetData>")
            bomb.writestr(info.filename, data)
    return out.getvalue()


async def test_a_workbook_that_unpacks_to_far_more_than_a_full_import_is_refused(
    console: Console,
) -> None:
    # A 27 KB workbook of 200,000 cells held the event loop (every sign-in) for half a minute;
    # the 2 MiB a file may weigh would have held it for an hour.
    bomb = workbook_bomb(500_000)
    assert len(bomb) < 100_000
    http, _ = await console_sign_in(console, "east-admin")
    try:
        csrf = hidden((await http.get("/admin/import")).text, "csrf_token")
        files = {"file": ("org.xlsx", bomb, XLSX)}
        refused = await http.post(
            "/admin/import/departments", data={"csrf_token": csrf}, files=files
        )
        assert refused.status_code == 422, refused.text
        assert "MiB" in refused.text
    finally:
        await http.aclose()
