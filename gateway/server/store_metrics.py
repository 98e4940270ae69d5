"""The database's statements and the expiring store's calls, timed into the metrics through
their public surfaces: the database's statement observer, and a stand-in for the store that
also puts each call in a span when tracing is on."""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal, cast

from gateway.identity import spans
from gateway.identity.metrics import DATABASE_SECONDS, EXPIRING_STORE_SECONDS
from gateway.identity.spans import Method
from store.database import Database
from store.kv import ExpiringStore

_OK = DATABASE_SECONDS.labels("ok")
_FAILED = DATABASE_SECONDS.labels("error")
Wrapper = Callable[[str, Method], Method]


def _statement(seconds: float, failed: bool) -> None:
    (_FAILED if failed else _OK).observe(seconds)


def observe_database(database: Database) -> None:
    database.observe_statements(_statement)


def _timed(name: str, method: Method) -> Method:
    ok = EXPIRING_STORE_SECONDS.labels(name, "ok")
    failed = EXPIRING_STORE_SECONDS.labels(name, "error")

    async def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            result = await method(*args, **kwargs)
        except Exception:
            failed.observe(time.perf_counter() - started)
            raise
        ok.observe(time.perf_counter() - started)
        return result

    return timed


class _ObservedStore:
    """Each coroutine method of the store it wraps, passed through ``wrappers`` (timing, spans);
    anything else passed through. A method is wrapped once, at its first use."""

    def __init__(self, inner: ExpiringStore, wrappers: Sequence[Wrapper]) -> None:
        self._inner = inner
        self._wrappers = wrappers

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if not inspect.iscoroutinefunction(attribute):
            return attribute
        for wrap in self._wrappers:
            attribute = wrap(name, attribute)
        setattr(self, name, attribute)
        return attribute


def observed_store(inner: ExpiringStore, backend: Literal["memory", "redis"]) -> ExpiringStore:
    """``inner`` with Redis's calls timed into the metrics and, when tracing is on, every call
    in a span; ``inner`` itself when neither applies (the in-process store, untraced)."""
    wrappers: list[Wrapper] = [_timed] if backend == "redis" else []
    maker = spans.maker()
    if maker is not None:
        attributes = {"yihaotong.expiring_store": backend}
        wrappers.append(functools.partial(_in_span, maker, attributes))
    if not wrappers:
        return inner
    return cast(ExpiringStore, _ObservedStore(inner, wrappers))


def _in_span(
    maker: spans.SpanMaker, attributes: dict[str, str], name: str, method: Method
) -> Method:
    return maker.method(f"expiring store {name}", method, {**attributes, "db.operation": name})


def unobserved(store: ExpiringStore) -> ExpiringStore:
    """The store itself, for what needs its own type (the Redis pub/sub channel)."""
    return store._inner if isinstance(store, _ObservedStore) else store
