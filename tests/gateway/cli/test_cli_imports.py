"""``yihaotong import departments|accounts FILE [--dry-run]``: the admin API's import service
from the command line, audited as the operator; a failing row fails the command and keeps
nothing."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest
from openpyxl import Workbook

from tests.gateway.cli.test_cli import in_process, ok_json, refused

DEPARTMENTS = "编码,名称,上级编码\ncity,市,\neast,东区,city\n"


@pytest.fixture
def cli(tmp_path: Path):
    return in_process(tmp_path / "var")


def audit_entries(tmp_path: Path, event: str) -> list:
    from gateway.server.settings import Settings
    from store import audit
    from store.database import Database

    async def read() -> list:
        database = Database(Settings(data_dir=tmp_path / "var").resolved_database_url)
        try:
            async with database.sessions() as session:
                return await audit.query(session, event=event, limit=10)
        finally:
            await database.close()

    return asyncio.run(read())


def test_import_checks_imports_and_changes_nothing_the_second_time(cli, tmp_path: Path) -> None:
    file = tmp_path / "org.csv"
    file.write_text(DEPARTMENTS, encoding="utf-8")
    checked = ok_json(cli("import", "departments", str(file), "--dry-run", "--json"))
    assert checked["created"] == 2 and checked["applied"] is False
    assert ok_json(cli("departments", "list", "--json"))["departments"] == []
    done = cli("import", "departments", str(file))
    assert done.returncode == 0 and "imported 2 rows: 2 created" in done.stdout
    again = ok_json(cli("import", "departments", str(file), "--json"))
    assert again["unchanged"] == 2 and again["applied"] is True

    book = Workbook()
    book.active.append(["username", "name", "department_id", "national_id"])
    book.active.append(["zhang", "张三", "east", "11010519491231002X"])
    sheet = io.BytesIO()
    book.save(sheet)
    people = tmp_path / "people.xlsx"
    people.write_bytes(sheet.getvalue())
    assert ok_json(cli("import", "accounts", str(people), "--json"))["created"] == 1
    [entry] = audit_entries(tmp_path, "admin.import.accounts")
    assert entry.details["via"] == "cli" and entry.details["created"] == 1
    assert len(audit_entries(tmp_path, "admin.import.departments")) == 2


def test_a_failing_row_fails_the_command_and_keeps_nothing(cli, tmp_path: Path) -> None:
    file = tmp_path / "org.csv"
    file.write_text(DEPARTMENTS + "west,西区,nowhere\n", encoding="utf-8")
    failed = cli("import", "departments", str(file))
    assert failed.returncode == 1
    assert "row 4: west:" in failed.stdout and "nothing imported" in failed.stdout
    assert ok_json(cli("departments", "list", "--json"))["departments"] == []
    refused(cli("import", "accounts", str(file)), "username")  # a departments file
    refused(cli("import", "accounts", str(tmp_path / "missing.csv")), "cannot read")
