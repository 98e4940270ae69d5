"""审计: the audit log with the admin API's filters (time, event, actor, target, app, outcome),
paging by cursor, and the export of what the filter shows as CSV or NDJSON, through the admin
API's own service (``gateway/admin/platform.py``): city-wide administrators only, as there."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.responses import Response, StreamingResponse

from gateway.admin import platform
from gateway.admin.api_platform import NDJSON, audit_filters, audit_out
from gateway.admin.http import validated
from gateway.admin.models_audit import AuditQuery
from gateway.console.context import Console, view
from gateway.console.people_pages import when
from gateway.server.responses import Missing

PAGE = 50
FIELDS = ("event", "actor", "target", "client_id", "outcome")
CSV_COLUMNS = (
    "id", "at", "event", "outcome", "actor", "target", "client_id", "ip", "request_id", "check",
    "details",
)  # fmt: skip
COUNT_LIMIT = 10_000  # past it the page says "10000+": counting ten million rows is slow
CHINA = "+08:00"  # a date in the filter is a day in Beijing


def _query(console: Console, limit: int = PAGE) -> tuple[AuditQuery, dict[str, str]]:
    params = console.request.query_params
    shown = {name: params.get(name, "").strip()[:128] for name in (*FIELDS, "since", "until")}
    data: dict[str, Any] = {name: shown[name] for name in FIELDS if shown[name]}
    if shown["since"]:
        data["since"] = f"{shown['since']}T00:00:00{CHINA}"
    if shown["until"]:
        data["until"] = f"{shown['until']}T23:59:59.999999{CHINA}"
    after = params.get("after", "0")
    data["after"] = after if after.isdigit() else 0
    data["limit"] = limit
    return validated(AuditQuery, data, "query"), shown  # type: ignore[return-value]


@view("query_audit")
async def audit(console: Console) -> Response:
    query, shown = _query(console)
    events, total = await platform.query_audit(
        console.services,
        console.reach(),
        query.after,
        query.limit,
        COUNT_LIMIT,
        **audit_filters(query),
    )
    cursor = events[-1].id if len(events) == query.limit and events[-1].id else None
    filters = "&".join(f"{name}={value}" for name, value in shown.items() if value)
    return console.page(
        "console_audit.html",
        {
            "events": [
                {
                    **audit_out(e).model_dump(),
                    "when": when(e.at),
                    "details": json.dumps(e.details, ensure_ascii=False, sort_keys=True),
                }
                for e in events
            ],
            "total": f"{COUNT_LIMIT}+" if total > COUNT_LIMIT else total,
            "shown": shown,
            "cursor": cursor,
            "filters": filters,
        },
    )


def _csv_line(row: list[Any]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerow(row)
    return out.getvalue().encode()


@view("export_audit")
async def export(console: Console) -> Response:
    reach = console.reach()
    reach.require_city_wide("the audit log")  # before the stream starts, as the API does
    query, _ = _query(console)
    if console.request.path_params["format"] not in ("csv", "ndjson"):
        raise Missing("No such export.")
    as_csv = console.request.path_params["format"] == "csv"
    events = platform.export_audit(console.services, reach, query.after, **audit_filters(query))

    async def lines() -> AsyncIterator[bytes]:
        if as_csv:
            yield "\ufeff".encode() + _csv_line(list(CSV_COLUMNS))  # a BOM: Excel reads UTF-8
        async for event in events:
            document = audit_out(event).model_dump(mode="json")
            if as_csv:
                document["details"] = json.dumps(document["details"], ensure_ascii=False)
                yield _csv_line([document[name] for name in CSV_COLUMNS])
            else:
                yield json.dumps(document, ensure_ascii=False).encode() + b"\n"

    media = "text/csv; charset=utf-8" if as_csv else NDJSON
    name = "audit.csv" if as_csv else "audit.ndjson"
    return StreamingResponse(
        lines(),
        media_type=media,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
