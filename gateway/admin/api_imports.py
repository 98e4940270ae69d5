"""Admin API: bulk import of departments and accounts (``imports.py``). A batch is all or
nothing; a refused batch is a 422 naming every failing row."""

from __future__ import annotations

import hashlib
import json

from gateway.admin import imports
from gateway.admin.auth import WRITE
from gateway.admin.http import Call, Reply, endpoint
from gateway.admin.import_files import rows_of
from gateway.admin.imports import ImportReport
from gateway.admin.models_imports import (
    AccountImport,
    DepartmentImport,
    ImportReportOut,
    RowOut,
)
from gateway.server.responses import Invalid

TAG = "imports"


def report_out(report: ImportReport) -> ImportReportOut:
    return ImportReportOut(
        kind=report.kind,
        sha256=report.digest,
        dry_run=report.dry_run,
        applied=report.applied,
        created=report.count("created"),
        unchanged=report.count("unchanged"),
        failed=report.count("failed"),
        rows=[
            RowOut(row=r.row, key=r.key, outcome=r.outcome, reason=r.reason) for r in report.rows
        ],
    )


async def _run(call: Call, kind: str) -> Reply:
    records = [row.model_dump() for row in call.body.rows]
    digest = hashlib.sha256(json.dumps(records, ensure_ascii=False).encode()).hexdigest()
    batch = rows_of(kind, records, digest)
    report = await imports.import_rows(
        call.services, call.actor, call.reach, batch, dry_run=call.body.dry_run
    )
    if report.failures and not report.dry_run:
        errors = [
            {
                "loc": ["body", "rows", r.row - 1],
                "field": f"body.rows.{r.row - 1}",
                "message": r.reason or "",
            }
            for r in report.failures
        ]
        raise Invalid(
            f"{len(errors)} of {len(report.rows)} rows cannot be imported; nothing was kept.",
            errors=errors,
            denied=any(r.denied for r in report.failures),
        )
    return Reply(report_out(report))


@endpoint(
    "POST",
    "/imports/departments",
    scope=WRITE,
    tag=TAG,
    summary="Import departments",
    body=DepartmentImport,
    out=ImportReportOut,
)
async def import_departments(call: Call) -> Reply:
    """Add the departments of `rows` (keyed by code; a parent before its children). Rows that
    exist with the same name and parent are left unchanged, so a second run changes nothing.
    All or nothing: if any row fails, none is kept (422, each failing row in `errors`).
    `dry_run` reports what would happen."""
    return await _run(call, "departments")


@endpoint(
    "POST",
    "/imports/accounts",
    scope=WRITE,
    tag=TAG,
    summary="Import accounts",
    body=AccountImport,
    out=ImportReportOut,
)
async def import_accounts(call: Call) -> Reply:
    """Add the accounts of `rows` (keyed by username), without passwords: people sign in
    through their department's login system, or set a password by recovery. Rows that exist
    with the same name and department are left unchanged. All or nothing, as for departments."""
    return await _run(call, "accounts")
