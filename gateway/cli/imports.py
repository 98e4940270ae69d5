"""``import``: departments or accounts from a CSV or Excel file, through the admin API's import
service (all or nothing, audited as one batch)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gateway.admin import imports
from gateway.admin.api_imports import report_out
from gateway.admin.import_files import MAX_BYTES, ImportFileError, read_rows
from gateway.admin.imports import ImportReport
from gateway.cli.common import (
    EVERYWHERE,
    JsonFlag,
    emit,
    fail,
    load_settings,
    operator,
    with_services,
)

group = typer.Typer(
    help="Bulk import from CSV or Excel (.xlsx): a header row, then one record a row.",
    no_args_is_help=True,
)
FileArgument = Annotated[Path, typer.Argument(help="A .csv (UTF-8 or GB18030) or .xlsx file.")]
DryRun = Annotated[
    bool, typer.Option("--dry-run", help="Check every row and report; keep nothing.")
]


def _run(kind: str, path: Path, dry_run: bool, as_json: bool) -> None:
    try:
        with path.open("rb") as file:
            data = file.read(MAX_BYTES + 1)
    except OSError as error:
        fail(f"cannot read {path}: {error.strerror}")
    try:
        batch = read_rows(kind, data, path.name)
    except ImportFileError as error:
        fail(f"{path}: {error}")
    report = with_services(
        load_settings(),
        lambda s: imports.import_rows(s, operator(), EVERYWHERE, batch, dry_run=dry_run),
    )
    emit(as_json, report_out(report), _lines(report))
    if report.failures:
        raise typer.Exit(1)


def _lines(report: ImportReport) -> list[str]:
    lines = [f"row {r.row}: {r.key or '-'}: {r.reason}" for r in report.failures]
    counts = (
        f"{report.count('created')} to create, {report.count('unchanged')} unchanged, "
        f"{len(report.failures)} failing"
    )
    if report.applied:
        lines.append(f"imported {len(report.rows)} rows: {counts.replace('to create', 'created')}")
    elif report.dry_run:
        lines.append(f"dry run, nothing kept: {counts}")
    else:
        lines.append(f"nothing imported: {counts}")
    return lines


@group.command("departments")
def departments(path: FileArgument, dry_run: DryRun = False, as_json: JsonFlag = False) -> None:
    """Departments: columns id (code), name, parent_id (or 编码, 名称, 上级编码); a parent
    before its children."""
    _run("departments", path, dry_run, as_json)


@group.command("accounts")
def accounts(path: FileArgument, dry_run: DryRun = False, as_json: JsonFlag = False) -> None:
    """Accounts without passwords: columns username, name, department_id, phone, email,
    national_id (or 用户名, 姓名, 部门编码, 手机号, 邮箱, 身份证号)."""
    _run("accounts", path, dry_run, as_json)
