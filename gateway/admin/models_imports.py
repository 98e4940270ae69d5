"""The admin API's models of bulk import: rows in, a report out."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from gateway.admin.models import Model

Cell = Annotated[str, StringConstraints(max_length=1000)] | None


class DepartmentRowIn(Model):
    id: Cell = Field(None, description="The department's code (its stable key).")
    name: Cell = None
    parent_id: Cell = Field(None, description="The parent's code; empty: a top-level department.")


class AccountRowIn(Model):
    username: Cell = Field(None, description="The account's stable key.")
    name: Cell = None
    department_id: Cell = None
    phone: Cell = None
    email: Cell = None
    national_id: Cell = Field(None, description="Stored encrypted, found by its blind index.")


class DepartmentImport(Model):
    rows: list[DepartmentRowIn] = Field(min_length=1, max_length=10_000)
    dry_run: bool = Field(False, description="Check every row, keep nothing.")


class AccountImport(Model):
    rows: list[AccountRowIn] = Field(min_length=1, max_length=10_000)
    dry_run: bool = Field(False, description="Check every row, keep nothing.")


class RowOut(Model):
    row: int = Field(description="The row's number: 1 for the first in `rows`.")
    key: str | None
    outcome: str = Field(description="created, unchanged or failed")
    reason: str | None


class ImportReportOut(Model):
    kind: str
    sha256: str = Field(description="SHA-256 of the rows as JSON (what the audit entry names).")
    dry_run: bool
    applied: bool = Field(description="Whether the rows were kept (all of them, or none).")
    created: int
    unchanged: int
    failed: int
    rows: list[RowOut]
