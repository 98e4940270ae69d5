"""Traces (OpenTelemetry, the ``otel`` extra): a server span for every request, the direct
routes' too; a span for each expiring-store call, SQL statement, Redis command, outgoing HTTP
request and call to a department's login system; W3C ``traceparent`` on outgoing requests.

Imported only when tracing is on (``create_app``): a gateway without it never imports
OpenTelemetry and wraps nothing. The official instrumentations do the work where they exist
(ASGI, httpx, Redis, asyncpg, SQLAlchemy for SQLite); ``gateway.identity.spans`` the rest.

What a span holds is what an operator may read: URLs lose their query strings (codes, tickets,
states, login hints), a caller's address is cut to its network, and our own spans record an
error's type, never its message."""

from __future__ import annotations

import contextlib
import ipaddress
import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from opentelemetry import propagate
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Match, Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.identity import spans
from gateway.identity.spans import Answers, Method
from gateway.server.app import DIRECT_ROUTES, Gateway
from gateway.server.settings import Settings
from store.database import Database

_URL_KEYS = ("http.url", "url.full", "http.target")
_QUERY_KEYS = ("url.query",)
_CALLER_KEYS = ("net.peer.ip", "client.address", "http.client_ip", "network.peer.address")


def _without_query(span: Any) -> None:
    """Overwrite what an instrumentation recorded with a query string (codes, tickets, states)."""
    attributes = getattr(span, "attributes", None)
    if not attributes or not span.is_recording():
        return
    for key in _URL_KEYS:
        value = attributes.get(key)
        if isinstance(value, str) and "?" in value:
            span.set_attribute(key, value.partition("?")[0])
    for key in _QUERY_KEYS:
        if key in attributes:
            span.set_attribute(key, "")


def _network(address: str) -> str:
    """A person's address cut to its network (/24, /48): enough to see where load comes from."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return ""
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False).network_address)


def _server_request(span: Any, scope: Scope) -> None:
    """The ASGI middleware's hook, after it has set its attributes a second time."""
    _without_query(span)
    attributes = getattr(span, "attributes", None) or {}
    for key in _CALLER_KEYS:
        value = attributes.get(key)
        if isinstance(value, str):
            span.set_attribute(key, _network(value))


class _Scrubbing(SpanProcessor):
    """Client spans (httpx, Redis, SQL) as they start: URLs without their query strings."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        if span.kind is not SpanKind.SERVER:
            _without_query(span)


def _route_path(route: BaseRoute) -> str | None:
    path = getattr(route, "path", None)
    if path is None:
        return None
    return f"{path}/{{path}}" if isinstance(route, Mount) else path


def _span_details(app: Starlette) -> Callable[[Scope], tuple[str, dict[str, str]]]:
    """Server spans are named by method and route template, never the raw path (ids, tickets)."""

    def details(scope: Scope) -> tuple[str, dict[str, str]]:
        method, path = scope.get("method", "HTTP"), scope.get("path", "")
        template = path if (method, path) in DIRECT_ROUTES else None
        partial = None
        for route in app.router.routes if template is None else ():
            match, _ = route.matches(scope)
            if match is Match.FULL:
                template = _route_path(route)
                break
            if match is Match.PARTIAL and partial is None:
                partial = route
        if template is None and partial is not None:
            template = _route_path(partial)
        if template is None:
            return method, {}
        return f"{method} {template}", {"http.route": template}

    return details


class _Spans:
    """The maker ``gateway.identity.spans`` calls once tracing has started."""

    def __init__(self, tracer: Tracer) -> None:
        self._tracer = tracer

    @contextlib.contextmanager
    def span(self, name: str, attributes: Mapping[str, str], answers: Answers) -> Iterator[None]:
        with self._tracer.start_as_current_span(
            name, attributes=attributes, record_exception=False, set_status_on_exception=False
        ) as span:
            try:
                yield
            except answers:
                raise
            except Exception as error:
                span.set_status(Status(StatusCode.ERROR))
                span.set_attribute("error.type", type(error).__qualname__)
                raise

    def method(self, name: str, method: Method, attributes: Mapping[str, str]) -> Method:
        async def in_span(*args: Any, **kwargs: Any) -> Any:
            with self.span(name, attributes, ()):
                return await method(*args, **kwargs)

        return in_span


def _optional_instrumentors() -> list[BaseInstrumentor]:
    """Redis and asyncpg come with their extras; without one there is nothing to instrument."""
    found: list[BaseInstrumentor] = []
    with contextlib.suppress(ImportError):
        from opentelemetry.instrumentation.redis import RedisInstrumentor

        found.append(RedisInstrumentor())
    with contextlib.suppress(ImportError):
        from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor

        found.append(AsyncPGInstrumentor())
    return found


class Tracing:
    """One process's traces. The provider is its own, never OpenTelemetry's global one (which
    can be set once a process); the instrumentations are global while it runs. ``exporter``:
    where spans go as each ends (tests); unset, batches go over OTLP/HTTP."""

    def __init__(self, settings: Settings, exporter: SpanExporter | None = None) -> None:
        name = settings.otel_service_name or os.environ.get("OTEL_SERVICE_NAME") or "yihaotong"
        # Built in each worker (the uvicorn factory runs there): the pid tells workers apart.
        resource = Resource.create({"service.name": name, "process.pid": os.getpid()})
        self.provider = TracerProvider(resource=resource)
        self.provider.add_span_processor(_Scrubbing())
        if exporter is not None:
            self.provider.add_span_processor(SimpleSpanProcessor(exporter))
        else:
            self.provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        self._instrumented: list[BaseInstrumentor] = []

    def server(self, app: ASGIApp, gateway: Starlette) -> ASGIApp:
        return OpenTelemetryMiddleware(
            app,
            default_span_details=_span_details(gateway),
            server_request_hook=_server_request,
            tracer_provider=self.provider,
            meter_provider=NoOpMeterProvider(),
            exclude_spans=["receive", "send"],
        )

    def _instrument(self, instrumentor: BaseInstrumentor, **options: Any) -> None:
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument(tracer_provider=self.provider, **options)
            if instrumentor.is_instrumented_by_opentelemetry:  # refused: logged by itself
                self._instrumented.append(instrumentor)

    def start(self) -> None:
        if "OTEL_PROPAGATORS" not in os.environ:
            # traceparent only: a caller's baggage is not handed on to the departments.
            propagate.set_global_textmap(TraceContextTextMapPropagator())
        self._instrument(HTTPXClientInstrumentor())
        for instrumentor in _optional_instrumentors():
            self._instrument(instrumentor)
        spans.install(_Spans(self.provider.get_tracer("yihaotong")))

    def watch(self, database: Database) -> None:
        """SQLite's statements (PostgreSQL's are asyncpg's, instrumented in ``start``)."""
        if database.is_sqlite:
            from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

            # Its declared range stops below SQLAlchemy 2.1, whose engine events it uses are
            # unchanged (tests/gateway/server/test_traces.py runs it on the installed one).
            engine = database.engine.sync_engine
            self._instrument(SQLAlchemyInstrumentor(), engine=engine, skip_dep_check=True)

    def stop(self) -> None:
        spans.install(None)
        while self._instrumented:
            self._instrumented.pop().uninstrument()
        self.provider.shutdown()  # sends what is still queued

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        """Instrumented from the lifespan's start to its end (in each worker)."""
        self.start()
        try:
            yield
        finally:
            self.stop()


class TracedGateway(Gateway):
    """The gateway inside OpenTelemetry's ASGI middleware, direct routes included; built only
    when tracing is on, so that ``Gateway`` itself pays nothing for it."""

    def __init__(self, tracing: Tracing, **options: Any) -> None:
        super().__init__(**options)
        self.tracing = tracing
        self._traced = tracing.server(super().__call__, self)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._traced(scope, receive, send)
