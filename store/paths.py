"""SQL conditions on department paths ("/city/east/tax"). Exact prefix comparison, never LIKE:
LIKE reads ``_`` and ``%`` in an id as wildcards and ignores case on SQLite, so "/city/e_st"
would reach into "/city/east"."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_


def below(column: Any, path: str) -> Any:
    """``column`` (a path) lies strictly below ``path``."""
    prefix = path + "/"
    return func.substr(column, 1, len(prefix)) == prefix


def at_or_below(column: Any, path: str) -> Any:
    return or_(column == path, below(column, path))
