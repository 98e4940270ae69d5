"""审计 in the console: the filters narrow the log, paging goes on by cursor, and the export
gives what the filter shows as CSV (for Excel) or NDJSON (as the admin API's export)."""

from __future__ import annotations

import csv
import io
import json

import pytest

from tests.gateway.browser import hidden
from tests.gateway.console.conftest import Console, console_sign_in


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_the_audit_log_filtered_paged_and_exported(console: Console) -> None:
    http, landed = await console_sign_in(console, "root")
    try:
        csrf = hidden(landed.text, "csrf_token")
        for name in ("a1", "a2", "a3"):
            made = await http.post(
                "/admin/departments", data={"csrf_token": csrf, "id": name, "name": name}
            )
            assert made.status_code == 303
        page = await http.get(
            "/admin/audit", params={"event": "admin.department.created", "outcome": "success"}
        )
        assert page.status_code == 200
        assert page.text.count("<code>admin.department.created</code>") >= 3
        exported = await http.get(
            "/admin/audit/export.csv", params={"event": "admin.department.created"}
        )
        assert exported.status_code == 200
        assert exported.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
        assert {"a1", "a2", "a3"} <= {row["target"] for row in rows}
        assert all(row["actor"] == console.world.city_admin for row in rows[-3:])
        lines = (await http.get("/admin/audit/export.ndjson", params={"event": "console.*"})).text
        events = [json.loads(line) for line in lines.splitlines()]
        assert "console.signed_in" in {e["event"] for e in events}
        refused = await http.get("/admin/audit", params={"outcome": "maybe"})
        assert refused.status_code == 422
    finally:
        await http.aclose()


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_a_district_administrator_has_no_audit_page(console: Console) -> None:
    http, landed = await console_sign_in(console, "east-admin")
    try:
        assert 'href="/admin/audit"' not in landed.text  # hidden from it
        assert (await http.get("/admin/audit")).status_code == 403  # and refused
        assert (await http.get("/admin/audit/export.csv")).status_code == 403
    finally:
        await http.aclose()
