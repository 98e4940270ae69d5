"""Core statements run straight on asyncpg's own pool (PostgreSQL): compiled once by
SQLAlchemy's asyncpg dialect, so the SQL, the parameter order and the type conversions are
SQLAlchemy's, without its per-statement result machinery."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Executable
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.compiler import Compiled
from sqlalchemy.sql.dml import UpdateBase

Processor = Callable[[Any], Any] | None
_CACHE_LIMIT = 512  # statements built per call (text() in a test) must not pile up


class CompiledStatement:
    """One statement compiled for one dialect: SQL with ``$n`` placeholders, the parameter
    names in their order, and the bind and result converters of the columns' types."""

    def __init__(
        self, statement: Executable, dialect: Dialect, keys: Sequence[str] | None = None
    ) -> None:
        self.statement = statement
        # An INSERT without values writes the columns its parameters name, as SQLAlchemy does.
        self.compiled: Compiled = statement.compile(dialect=dialect, column_keys=keys)
        self.binds: dict[str, Processor] = {
            name: bind.type.dialect_impl(dialect).bind_processor(dialect)
            for name, bind in self.compiled.binds.items()  # type: ignore[attr-defined]
        }
        columns = getattr(statement, "selected_columns", ())
        results = [
            column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns
        ]
        self.results: list[Processor] | None = results if any(results) else None
        # Without IN lists, literal-execute or escaped parameters the SQL is the same for every
        # call: only the values are looked up (expanding the state re-renders it each time).
        compiled_sql: Any = self.compiled
        fixed = not (
            compiled_sql.post_compile_params
            or compiled_sql.literal_execute_params
            or compiled_sql.escaped_bind_names
        )
        self.order: list[str] | None = None
        if fixed and compiled_sql.positiontup is not None:
            self.order = list(compiled_sql.positiontup)
            self.converters = [(i, self.binds.get(name)) for i, name in enumerate(self.order)]
            self.converters = [(i, convert) for i, convert in self.converters if convert]

    def arguments(self, parameters: Mapping[str, Any] | None) -> tuple[str, list[Any]]:
        """The SQL (expanding IN lists rendered) and the positional, converted values."""
        if self.order is not None:
            given = self.compiled.construct_params(parameters)
            values = [given[name] for name in self.order]
            for index, convert in self.converters:
                values[index] = convert(values[index])  # type: ignore[misc]
            return self.compiled.string, values
        state = self.compiled.construct_expanded_state(parameters)  # type: ignore[attr-defined]
        values = list(state.positional_parameters)
        processors = state.processors
        for index, name in enumerate(state.positiontup):
            convert = self.binds.get(name) or processors.get(name)
            if convert is not None:
                values[index] = convert(values[index])
        return state.statement, values

    def rows(self, records: Sequence[Any]) -> list[tuple[Any, ...]]:
        if self.results is None:
            return [tuple(record) for record in records]
        converters = self.results
        return [
            tuple(
                value if convert is None else convert(value)
                for convert, value in zip(converters, record, strict=True)
            )
            for record in records
        ]


class StatementCache:
    """Compiled statements by identity (statements are built once at import)."""

    def __init__(self, dialect: Dialect) -> None:
        self._dialect = dialect
        self._compiled: dict[tuple[int, tuple[str, ...] | None], CompiledStatement] = {}

    def __call__(
        self, statement: Executable, parameters: Mapping[str, Any] | None
    ) -> CompiledStatement:
        keys = tuple(parameters) if isinstance(statement, UpdateBase) and parameters else None
        key = (id(statement), keys)
        found = self._compiled.get(key)
        if found is None or found.statement is not statement:
            if len(self._compiled) >= _CACHE_LIMIT:
                self._compiled.clear()
            found = CompiledStatement(statement, self._dialect, keys)
            self._compiled[key] = found
        return found


def rowcount(status: str) -> int:
    """The rows a statement wrote, from PostgreSQL's command tag ("INSERT 0 1", "UPDATE 3")."""
    last = status.rpartition(" ")[2]
    return int(last) if last.isdigit() else -1


async def json_codecs(connection: Any) -> None:
    """JSON arrives serialized by the type's bind converter, as SQLAlchemy's dialect sends it;
    read it back to Python values as the dialect does."""
    for name in ("json", "jsonb"):
        await connection.set_type_codec(
            name, encoder=str, decoder=json.loads, schema="pg_catalog", format="text"
        )


async def keep_session(_connection: Any) -> None:
    """A connection going back to the pool needs no reset (asyncpg's default is a round trip):
    single statements commit alone and change no session state."""
