"""批量导入: upload a CSV or Excel file, see the dry run's report (every failing row, with its
number and reason), then confirm. Between the two steps the checked rows wait in the expiring
store, encrypted and bound to this console session, so the confirmation imports exactly the
file that was checked. The import itself is the admin API's service (``admin/imports.py``)."""

from __future__ import annotations

import secrets

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from gateway.admin import imports
from gateway.admin.import_files import COLUMNS, ImportFile, ImportFileError, Row, read_rows
from gateway.admin.imports import ImportReport
from gateway.console.context import Console, view
from gateway.server.responses import Invalid, Missing
from store import kv_keys

PENDING_SECONDS = 900
KINDS = tuple(COLUMNS)
_CONTEXT = "console-import"


def _page(console: Console, status: int = 200, **context: object) -> Response:
    return console.page(
        "console_import.html",
        {"kinds": KINDS, "columns": COLUMNS, "report": None, "token": None, **context},
        status,
    )


@view("import_departments")
async def import_page(console: Console) -> Response:
    console.writer  # noqa: B018 (refuses a read-only administrator, as the API would)
    return _page(console)


async def _keep(console: Console, batch: ImportFile) -> str:
    token = secrets.token_urlsafe(24)
    record = {
        "session": console.session.key,
        "kind": batch.kind,
        "digest": batch.digest,
        "rows": [[row.number, row.values] for row in batch.rows],
    }
    sealed = console.services.master_key.encrypt(orjson.dumps(record), _CONTEXT)
    await console.services.expiring.put(
        kv_keys.console_import(token), sealed.encode(), PENDING_SECONDS
    )
    return token


async def _taken(console: Console, kind: str, token: str) -> ImportFile:
    found = await console.services.expiring.take(kv_keys.console_import(token))
    record = None
    if found is not None:
        record = orjson.loads(console.services.master_key.decrypt(found.decode(), _CONTEXT))
    if record is None or record["session"] != console.session.key or record["kind"] != kind:
        raise Missing("The checked file has expired; upload it again.")
    rows = [Row(number, values) for number, values in record["rows"]]
    return ImportFile(kind, record["digest"], rows)


async def _check(console: Console, kind: str) -> Response:
    """The dry run: every row checked as the import would, nothing kept."""
    writer = console.writer
    if console.upload is None:
        raise Invalid.field(["body", "file"], "choose a file")
    name, data = console.upload
    try:
        # Parsing a workbook takes seconds: in a thread, so the event loop serves sign-ins.
        batch = await run_in_threadpool(read_rows, kind, data, name)
    except ImportFileError as error:
        raise Invalid.field(["body", "file"], str(error)) from None
    report = await imports.import_rows(console.services, console.actor, writer, batch, dry_run=True)
    token = None if report.failures else await _keep(console, batch)
    return _page(console, report=report, token=token, file_name=name)


async def _confirm(console: Console, kind: str) -> Response:
    """The import of the file the dry run checked (all rows, or none)."""
    writer = console.writer
    batch = await _taken(console, kind, console.form.get("token", "")[:64])
    report: ImportReport = await imports.import_rows(
        console.services, console.actor, writer, batch, dry_run=False
    )
    return _page(console, 200 if report.applied else 422, report=report)


@view("import_departments", upload=True)
async def check_departments(console: Console) -> Response:
    return await _check(console, "departments")


@view("import_accounts", upload=True)
async def check_accounts(console: Console) -> Response:
    return await _check(console, "accounts")


@view("import_departments")
async def confirm_departments(console: Console) -> Response:
    return await _confirm(console, "departments")


@view("import_accounts")
async def confirm_accounts(console: Console) -> Response:
    return await _confirm(console, "accounts")
