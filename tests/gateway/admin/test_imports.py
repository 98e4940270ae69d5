"""Bulk import as a service (``gateway/admin/imports.py``), on both backends: a dry run keeps
nothing, a batch is all or nothing, a second run changes nothing, one audit entry a batch, PII
sealed with its blind index, and a department administrator only inside its subtree."""

from __future__ import annotations

import hashlib
import io

import pytest
from openpyxl import Workbook

from gateway.admin import org, people
from gateway.admin.changes import CLI, Actor
from gateway.admin.import_files import MAX_ROWS, ImportFileError, read_rows
from gateway.admin.imports import import_rows
from gateway.admin.reach import Reach
from gateway.identity.pii import PiiVault
from store import audit as audit_store
from store import organisation
from store.identities import IdentityStore
from tests.gateway.helpers import second_instance

EVERYWHERE = Reach.everywhere()
EAST = Reach(("/city/east",))
ID_NUMBER = "11010519491231002X"
DEPARTMENTS = "编码,名称,上级编码\ncity,市,\neast,东区,city\neast-tax,东区税务,east\n".encode()


@pytest.fixture(params=["embedded", "services"])
async def services(request: pytest.FixtureRequest, settings_for):
    async with second_instance(settings_for(request.param)) as opened:
        yield opened


async def imports_recorded(services, kind: str) -> list:
    async with services.database.sessions() as session:
        return await audit_store.query(session, event=f"admin.import.{kind}", limit=10)


async def department(services, department_id: str):
    async with services.database.sessions() as session:
        return await organisation.get_department(session, department_id)


def xlsx(rows: list[list[object]]) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def test_a_dry_run_keeps_nothing_the_import_everything_and_a_second_run_nothing(
    services,
) -> None:
    batch = read_rows("departments", DEPARTMENTS, "org.csv")
    checked = await import_rows(services, CLI, EVERYWHERE, batch, dry_run=True)
    assert [(r.row, r.key, r.outcome) for r in checked.rows] == [
        (2, "city", "created"),
        (3, "east", "created"),
        (4, "east-tax", "created"),
    ]
    assert not checked.applied and await department(services, "city") is None
    assert await imports_recorded(services, "departments") == []

    done = await import_rows(services, CLI, EVERYWHERE, batch, dry_run=False)
    assert done.applied and done.count("created") == 3
    assert (await department(services, "east-tax")).path == "/city/east/east-tax"
    again = await import_rows(services, CLI, EVERYWHERE, batch, dry_run=False)
    assert again.applied and [r.outcome for r in again.rows] == ["unchanged"] * 3

    entries = await imports_recorded(services, "departments")
    assert len(entries) == 2  # one a batch, never one a row
    first = next(e for e in entries if e.details["created"] == 3)
    assert first.actor == "cli" and first.details["via"] == "cli"
    assert first.details["sha256"] == hashlib.sha256(DEPARTMENTS).hexdigest()
    assert first.details["rows"] == 3 and first.details["unchanged"] == 0


async def test_one_failing_row_keeps_no_row_and_every_failure_is_reported(services) -> None:
    data = (
        "id,name,parent_id\n"
        "city,市,\n"  # row 2: fine on its own
        "Bad Id,坏,city\n"  # row 3: not a department code
        "east,东区,nowhere\n"  # row 4: no such parent
        "city,又一个市,\n"  # row 5: the same code twice
        "south,,city\n"  # row 6: no name
    ).encode()
    report = await import_rows(
        services, CLI, EVERYWHERE, read_rows("departments", data), dry_run=False
    )
    assert not report.applied
    failed = {r.row: r.reason for r in report.failures}
    assert set(failed) == {3, 4, 5, 6}
    assert "id" in failed[3] and "nowhere" in failed[4] and "earlier row" in failed[5]
    assert "name" in failed[6]
    assert await department(services, "city") is None  # all or nothing
    assert await imports_recorded(services, "departments") == []


async def test_a_department_that_exists_otherwise_is_not_overwritten(services) -> None:
    await org.create_department(services, CLI, EVERYWHERE, "city", "市", None)
    data = "id,name,parent_id\ncity,另一个名字,\n".encode()
    report = await import_rows(
        services, CLI, EVERYWHERE, read_rows("departments", data), dry_run=False
    )
    assert "another name or parent" in report.failures[0].reason
    assert (await department(services, "city")).name == "市"


async def test_accounts_from_excel_store_phone_and_id_number_sealed_and_indexed(services) -> None:
    await import_rows(
        services, CLI, EVERYWHERE, read_rows("departments", DEPARTMENTS), dry_run=False
    )
    data = xlsx(
        [
            ["用户名", "姓名", "部门编码", "手机号", "身份证号"],
            ["zhang.san", "张三", "east-tax", 13800138000, ID_NUMBER],
            ["li.si", "李四", "east", "139 0013 9000", None],
        ]
    )
    report = await import_rows(
        services, Actor("admin-1", via="test"), EVERYWHERE, read_rows("accounts", data, "p.xlsx"),
        dry_run=False,
    )  # fmt: skip
    assert report.applied and report.count("created") == 2, report.failures
    found = await people.find_by_identifier(services, EVERYWHERE, "national_id", ID_NUMBER)
    assert found is not None and found.username == "zhang.san" and found.password_hash is None
    assert found.phone is None and found.department_id == "east-tax"  # sealed, not in clear
    by_phone = await people.find_by_identifier(services, EVERYWHERE, "phone", "13900139000")
    assert by_phone is not None and by_phone.username == "li.si"
    stored = await IdentityStore(services.database).identifiers_of(found.id)
    sealed = next(i for i in stored if i.type == "national_id")
    assert ID_NUMBER not in sealed.value and not sealed.verified
    assert PiiVault(services.master_key).open("national_id", sealed.value) == ID_NUMBER
    phone = next(i for i in stored if i.type == "phone")
    assert not phone.verified
    assert PiiVault(services.master_key).open("phone", phone.value) == "13800138000"
    [entry] = await imports_recorded(services, "accounts")
    assert ID_NUMBER not in str(entry.details) and "13800138000" not in str(entry.details)
    assert entry.actor == "admin-1" and entry.details["created"] == 2

    again = await import_rows(
        services, CLI, EVERYWHERE, read_rows("accounts", data, "p.xlsx"), dry_run=False
    )
    assert [r.outcome for r in again.rows] == ["unchanged", "unchanged"]


async def test_bad_identifiers_and_a_taken_id_number_fail_their_rows(services) -> None:
    await org.create_department(services, CLI, EVERYWHERE, "city", "市", None)
    first = f"username,name,department_id,national_id\nwang,王五,city,{ID_NUMBER}\n".encode()
    assert (
        await import_rows(services, CLI, EVERYWHERE, read_rows("accounts", first), dry_run=False)
    ).applied
    data = (
        "username,name,department_id,phone,national_id\n"
        f"zhao,赵六,city,,{ID_NUMBER}\n"  # the number is wang's
        "qian,钱七,city,,110105194912310021\n"  # wrong check digit
        "sun,孙八,city,12345,\n"  # not a mobile number
        "Bad Name!,李,city,,\n"
    ).encode()
    report = await import_rows(services, CLI, EVERYWHERE, read_rows("accounts", data), dry_run=True)
    failed = {r.row: r.reason for r in report.failures}
    assert set(failed) == {2, 3, 4, 5}
    assert "another account" in failed[2] and failed[3].startswith("national_id")
    assert failed[4].startswith("phone") and failed[5].startswith("username")
    assert ID_NUMBER not in " ".join(failed.values())


async def test_a_department_administrator_imports_only_inside_its_subtree(services) -> None:
    for department_id, parent in (("city", None), ("east", "city"), ("west", "city")):
        await org.create_department(services, CLI, EVERYWHERE, department_id, department_id, parent)
    departments = "id,name,parent_id\neast-1,东一,east\nwest-1,西一,west\ntop,顶,\n".encode()
    report = await import_rows(
        services, CLI, EAST, read_rows("departments", departments), dry_run=False
    )
    assert [(r.row, r.outcome, r.denied) for r in report.rows] == [
        (2, "created", False),
        (3, "failed", True),
        (4, "failed", True),
    ]
    assert not report.applied and await department(services, "east-1") is None
    accounts = (
        "username,name,department_id\nin-east,甲,east\nin-west,乙,west\nnowhere,丙,\n".encode()
    )
    report = await import_rows(services, CLI, EAST, read_rows("accounts", accounts), dry_run=False)
    assert [r.outcome for r in report.rows] == ["created", "failed", "failed"]
    assert "west" in report.rows[1].reason and report.rows[1].denied
    only_east = "username,name,department_id\nin-east,甲,east\n".encode()
    done = await import_rows(services, CLI, EAST, read_rows("accounts", only_east), dry_run=False)
    assert done.applied
    # The same row, as the west district's administrator sees it: outside, not "unchanged".
    west = Reach(("/city/west",))
    seen = await import_rows(services, CLI, west, read_rows("accounts", only_east), dry_run=True)
    assert seen.rows[0].outcome == "failed" and seen.rows[0].denied


def test_the_file_is_limited_in_size_and_rows_and_needs_its_columns() -> None:
    with pytest.raises(ImportFileError, match="MiB"):
        read_rows("departments", b"id,name\n" + b"x" * (3 * 1024 * 1024))
    many = "id,name\n" + "".join(f"d{n},部门{n}\n" for n in range(MAX_ROWS + 1))
    with pytest.raises(ImportFileError, match="rows"):
        read_rows("departments", many.encode())
    with pytest.raises(ImportFileError, match="username"):
        read_rows("accounts", "name,phone\n张三,13800138000\n".encode())
    with pytest.raises(ImportFileError, match="Excel"):
        read_rows("accounts", b"PK\x03\x04 not really a workbook", "x.xlsx")
    gbk = "用户名,姓名\nzhang,张三\n".encode("gb18030")
    assert read_rows("accounts", gbk).rows[0].values == {"username": "zhang", "name": "张三"}
    blank_lines = read_rows("departments", b"id,name\n\n,\na,b\n")
    assert [(r.number, r.values["id"]) for r in blank_lines.rows] == [(4, "a")]
