"""Values between Python and SQL columns, shared by the ORM stores and the hot statements; no
database driver is imported here, so the embedded default needs none."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql

_DIALECT = postgresql.dialect()
_LENGTH = re.compile(r"\(\d+\)")


def epoch(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def timestamp(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def json_list(value: str | list[Any] | None) -> list[Any]:
    """A JSON column as the driver returns it: decoded by the codec SQLAlchemy's dialect sets
    on each pooled connection (its encoder takes JSON text), or text without that codec."""
    if value is None:
        return []
    return json.loads(value) if isinstance(value, str) else list(value)


def column_casts(table: Table, names: Sequence[str]) -> list[str]:
    """``$n::TYPE`` for each named column, from the table's own types (a parameter in a SELECT
    list has no column to take its type from). Without a length: a cast to VARCHAR(n) would cut
    a longer value short, where the INSERT refuses it."""
    return [
        f"${n}::{_LENGTH.sub('', table.c[name].type.compile(dialect=_DIALECT))}"
        for n, name in enumerate(names, start=1)
    ]
