"""SQL conditions on department paths ("/city/east/tax"). Exact prefix comparison: "/city/e_st"
must never reach into "/city/east". PostgreSQL gets an escaped ``LIKE`` (case-sensitive, and
estimated from the column's statistics, so a subtree's size is planned right); SQLite, whose
``LIKE`` ignores case, gets a ``substr`` equality."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, literal, or_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class PathBelow(FunctionElement[bool]):
    """``PathBelow(column, prefix, pattern)``: the column starts with ``prefix``."""

    type = Boolean()
    name = "path_below"
    inherit_cache = True


@compiles(PathBelow)
def _by_substr(element: PathBelow, compiler: Any, **kw: Any) -> str:
    column, prefix, _ = element.clauses
    start = f"substr({compiler.process(column, **kw)}, 1, length({compiler.process(prefix, **kw)}))"
    return f"({start} = {compiler.process(prefix, **kw)})"


@compiles(PathBelow, "postgresql")
def _by_like(element: PathBelow, compiler: Any, **kw: Any) -> str:
    column, _, pattern = element.clauses
    return f"({compiler.process(column, **kw)} LIKE {compiler.process(pattern, **kw)} ESCAPE '\\')"


def _pattern(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def below(column: Any, path: str) -> Any:
    """``column`` (a path) lies strictly below ``path``."""
    prefix = path + "/"
    return PathBelow(column, literal(prefix), literal(_pattern(prefix)))


def at_or_below(column: Any, path: str) -> Any:
    return or_(column == path, below(column, path))
