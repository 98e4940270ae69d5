"""Spans made by hand where no instrumentation library reaches: the expiring store's calls (the
in-process backend has no client to instrument) and calls to a department's login system (an
LDAP bind runs in a thread; a legacy database may be of any kind).

Nothing here imports OpenTelemetry: ``gateway.server.tracing`` installs a maker when tracing
starts, and until then ``span`` is a no-op and nothing is wrapped."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Protocol

Method = Callable[..., Awaitable[Any]]
Answers = tuple[type[BaseException], ...]


class SpanMaker(Protocol):
    def span(
        self, name: str, attributes: Mapping[str, str], answers: Answers
    ) -> AbstractContextManager[None]:
        """A span around a block; an exception in ``answers`` is an answer, not an error."""
        ...

    def method(self, name: str, method: Method, attributes: Mapping[str, str]) -> Method:
        """``method`` with each call in a span of its own."""
        ...


_maker: SpanMaker | None = None


def install(maker: SpanMaker | None) -> None:
    global _maker
    _maker = maker


def maker() -> SpanMaker | None:
    return _maker


def span(
    name: str, attributes: Mapping[str, str], answers: Answers = ()
) -> AbstractContextManager[None]:
    if _maker is None:
        return nullcontext()
    return _maker.span(name, attributes, answers)
