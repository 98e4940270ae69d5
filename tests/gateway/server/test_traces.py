"""Traces (gateway/server/tracing.py): a server span for every request, the direct routes' too,
with the store calls under it; the department's login system called with a W3C traceparent;
no personal data anywhere in a span; nothing at all unless configured."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlencode

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from gateway.server.app import Gateway, create_app
from store.memory import MemoryStore
from tests.conftest import CHEAP_HASHING, running_gateway
from tests.gateway.browser import TLS, Browser
from tests.gateway.cli.test_cli import YIHAOTONG
from tests.gateway.helpers import second_instance, service_client
from tests.gateway.identity.test_federated_sign_in import ldap_config
from tests.gateway.identity.test_oidc_federation import SECRET, through_the_department
from tests.gateway.sso import CALLBACK, PASSWORD, authorize_url, code_of, exchange
from tests.providers import oidc_idp, slapd
from tests.support import free_port, required

READY_SECONDS = 180  # two workers importing the gateway on a busy machine

PERSON = {
    "username": "qian.duoduo",
    "name": "钱多多",
    "phone": "13912345678",
    "email": "qian.duoduo@example.gov.cn",
}
STATE, NONCE = "state-0f3c9a", "nonce-7be21d"


def _texts(span: ReadableSpan) -> Iterator[str]:
    """Everything a span says: its name, status, attributes, events' and resource's."""
    yield span.name
    yield span.status.description or ""
    for attributes in (
        span.attributes,
        span.resource.attributes,
        *(event.attributes for event in span.events),
    ):
        for key, value in (attributes or {}).items():
            yield key
            yield str(value)


def _assert_nothing_personal(spans: tuple[ReadableSpan, ...], *secrets: str) -> None:
    assert spans
    for span in spans:
        for text in _texts(span):
            for secret in secrets:
                assert secret not in text, (span.name, text)


def _below(spans: tuple[ReadableSpan, ...], root: ReadableSpan) -> list[ReadableSpan]:
    """The spans under ``root``, at any depth."""
    children: dict[int, list[ReadableSpan]] = {}
    for span in spans:
        if span.parent is not None:
            children.setdefault(span.parent.span_id, []).append(span)
    found: list[ReadableSpan] = []
    waiting = [root.context.span_id]
    while waiting:
        for child in children.get(waiting.pop(), []):
            found.append(child)
            waiting.append(child.context.span_id)
    return found


def _server_span(spans: tuple[ReadableSpan, ...], name: str) -> ReadableSpan:
    found = [span for span in spans if span.kind is SpanKind.SERVER and span.name == name]
    assert len(found) == 1, sorted(span.name for span in spans if span.kind is SpanKind.SERVER)
    return found[0]


def _database_system(span: ReadableSpan) -> str | None:
    attributes = span.attributes or {}
    value = attributes.get("db.system", attributes.get("db.system.name"))
    return str(value) if value is not None else None


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def traced(settings_for, backend: str, exporter: InMemorySpanExporter):
    with running_gateway(settings_for, backend, span_exporter=exporter) as server:
        yield server


async def test_a_token_request_is_a_server_span_over_its_store_calls(
    traced, exporter: InMemorySpanExporter, backend: str
) -> None:
    async with second_instance(traced.settings) as admin:
        await admin.accounts.create_local(password=PASSWORD, **PERSON)
        app = await admin.clients.register(name="税务服务", redirect_uris=[CALLBACK])
    browser = Browser(traced.url)
    try:
        url = authorize_url(
            traced.url, app.client.client_id, state=STATE, nonce=NONCE, login_hint=PERSON["phone"]
        )
        arrival = await browser.go(url, username=PERSON["username"], password=PASSWORD)
    finally:
        await browser.close()
    code = code_of(arrival)
    answer = await exchange(traced, app, code)
    assert answer.status_code == 200, answer.text
    spans = exporter.get_finished_spans()

    # The token endpoint is a direct route, called before Starlette's router: still a span.
    token = _server_span(spans, "POST /oauth/token")
    assert token.attributes["http.route"] == "/oauth/token"
    below = _below(spans, token)
    store_calls = [span for span in below if span.name.startswith("expiring store ")]
    assert "expiring store redeem" in {span.name for span in store_calls}  # the code, once
    backend_name = "redis" if backend == "services" else "memory"
    assert {span.attributes["yihaotong.expiring_store"] for span in store_calls} == {backend_name}
    sql = "postgresql" if backend == "services" else "sqlite"
    assert any(_database_system(span) == sql for span in below), [s.name for s in below]
    if backend == "services":
        store_ids = {span.context.span_id for span in store_calls}
        commands = [span for span in below if _database_system(span) == "redis"]
        assert commands and all(span.parent.span_id in store_ids for span in commands)
    # Routed requests are named by their route template, never their raw path.
    assert _server_span(spans, "GET /oauth/authorize").attributes["http.route"] == (
        "/oauth/authorize"
    )

    tokens = answer.json()
    _assert_nothing_personal(
        spans,
        *PERSON.values(),
        PASSWORD,
        code,
        STATE,
        NONCE,
        app.client_secret or "",
        tokens["access_token"],
        tokens["id_token"].split(".")[1],
    )
    callers = {
        span.attributes.get("net.peer.ip", span.attributes.get("client.address"))
        for span in spans
        if span.kind is SpanKind.SERVER
    }
    assert callers == {"127.0.0.0"}  # a person's address, cut to its network


@pytest.fixture(scope="session")
def department_idp(tmp_path_factory: pytest.TempPathFactory):
    required(oidc_idp.available(), "node with npm (for the department's OpenID provider)")
    return oidc_idp.install(tmp_path_factory.mktemp("idp"))


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["embedded"])
async def test_a_department_sign_in_carries_the_trace_upstream(
    traced, exporter: InMemorySpanExporter, department_idp
) -> None:
    idp = oidc_idp.start(department_idp, "yihaotong", SECRET, f"{traced.url}/login/callback/hr")
    try:
        async with second_instance(traced.settings) as admin:
            await admin.login_systems.add(
                "hr",
                "oidc",
                {"name": "市人社局", "issuer": idp.url, "client_id": "yihaotong"}
                | {"client_secret": SECRET, "assurance": "L2"},
            )
            client = await admin.clients.register(name="市民门户", redirect_uris=[CALLBACK])
        browser = Browser(traced.url)
        try:
            params = {
                "response_type": "code",
                "client_id": client.client.client_id,
                "redirect_uri": CALLBACK,
                "scope": "openid profile email phone",
                "state": STATE,
                "idp_hint": "hr",
            }
            leaving = await browser.go(f"{traced.url}/oauth/authorize?{urlencode(params)}")
            arrival = await through_the_department(browser, leaving, "hr-001")
            assert arrival.headers["location"].startswith(CALLBACK)
        finally:
            await browser.close()
        async with httpx.AsyncClient(verify=TLS) as http:
            carried = (await http.get(f"{idp.url}/test/traceparents")).json()
    finally:
        idp.stop()
    spans = exporter.get_finished_spans()

    callback = _server_span(spans, "GET /login/callback/{provider_id}")
    below = _below(spans, callback)
    ours = {f"{span.context.span_id:016x}" for span in below if span.kind is SpanKind.CLIENT}
    trace_id = f"{callback.context.trace_id:032x}"
    at_token = [entry["traceparent"].split("-") for entry in carried if entry["path"] == "/token"]
    # W3C traceparent: version-trace id-parent span id-flags; the parent is our HTTP call.
    assert any(trace == trace_id and parent in ours for _, trace, parent, _ in at_token), (
        at_token,
        trace_id,
        ours,
    )
    calls = [span for span in below if span.name == "login system call"]
    assert [span.attributes["yihaotong.login_system"] for span in calls] == ["hr"]
    _assert_nothing_personal(
        spans,
        "赵磊",
        "13500135000",
        "zhaolei@hr.city.gov.cn",
        "hr-001",
        "department-password",
        STATE,
        SECRET,
        code_of(arrival),
    )


@pytest.fixture
def directory(tmp_path):
    required(slapd.available(), "slapd with ldap-utils (apt-get install slapd ldap-utils)")
    (tmp_path / "slapd").mkdir()
    server = slapd.start(tmp_path / "slapd")
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("backend", ["embedded"])
async def test_an_ldap_sign_in_is_a_login_system_call_in_its_request(
    traced, exporter: InMemorySpanExporter, directory
) -> None:
    """ldap3 has no instrumentation: the bind, in a thread, is inside our own span."""
    async with second_instance(traced.settings) as admin:
        await admin.login_systems.add("tax", "ldap", ldap_config(directory.url))
        client = await admin.clients.register(name="市民门户", redirect_uris=[CALLBACK])
    browser = Browser(traced.url)
    try:
        arrival = await browser.go(
            authorize_url(traced.url, client.client.client_id),
            username="zhangwei",
            password="tax-password-1",
            provider="tax",
        )
    finally:
        await browser.close()
    assert arrival.headers["location"].startswith(CALLBACK)
    spans = exporter.get_finished_spans()
    sign_in = _server_span(spans, "POST /login")
    calls = [span for span in _below(spans, sign_in) if span.name == "login system call"]
    assert [span.attributes["yihaotong.login_system"] for span in calls] == ["tax"]
    assert calls[0].status.is_ok
    _assert_nothing_personal(
        spans, "zhangwei", "张伟", "13900139000", "tax-password-1", code_of(arrival)
    )


class _Collector:
    """An OTLP/HTTP trace receiver: each export's protobuf body, decoded."""

    def __init__(self) -> None:
        self.exports: list[ExportTraceServiceRequest] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                export = ExportTraceServiceRequest()
                export.ParseFromString(body)
                collector.exports.append(export)
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/traces"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def spans(self) -> list[tuple[dict[str, str], ProtoSpan]]:
        """Each span received, with its resource's attributes."""
        found = []
        for export in self.exports:
            for resource_spans in export.resource_spans:
                resource = {
                    item.key: str(item.value.string_value or item.value.int_value)
                    for item in resource_spans.resource.attributes
                }
                for scope_spans in resource_spans.scope_spans:
                    found += [(resource, span) for span in scope_spans.spans]
        return found

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def collector() -> Iterator[_Collector]:
    receiver = _Collector()
    try:
        yield receiver
    finally:
        receiver.close()


async def _client_credentials(base_url: str, settings) -> None:
    machine = await service_client(settings)
    async with httpx.AsyncClient(base_url=base_url, verify=TLS) as http:
        answer = await http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(machine.client.client_id, machine.client_secret or ""),
        )
    assert answer.status_code == 200, answer.text


async def test_spans_reach_an_otlp_collector_only_when_configured(
    settings_for, collector: _Collector, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", collector.url)
    with running_gateway(settings_for) as quiet:
        assert type(quiet.app) is Gateway
        assert type(quiet.services.expiring) is MemoryStore  # nothing wrapped, nothing timed
        await _client_credentials(quiet.url, quiet.settings)
    assert collector.exports == []

    with running_gateway(
        settings_for, otel_enabled=True, otel_service_name="yihaotong-east"
    ) as live:
        await _client_credentials(live.url, live.settings)
    # The batch went out when the gateway stopped.
    received = collector.spans()
    tokens = [
        (resource, span)
        for resource, span in received
        if span.name == "POST /oauth/token" and span.kind == ProtoSpan.SPAN_KIND_SERVER
    ]
    assert len(tokens) == 1
    resource, token = tokens[0]
    assert resource["service.name"] == "yihaotong-east"
    below = [span for _, span in received if span.parent_span_id == token.span_id]
    assert any(span.name.startswith(("SELECT", "expiring store")) for span in below), below


def test_otel_sdk_disabled_overrules_the_setting(
    settings_for, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    settings = settings_for(otel_enabled=True)
    assert not settings.traces_wanted
    assert type(create_app(settings)) is Gateway
    monkeypatch.setenv("OTEL_SDK_DISABLED", "false")
    assert settings.traces_wanted


def test_without_the_extra_the_gateway_runs_untraced(tmp_path) -> None:
    """As if the otel extra were not installed: the gateway imports, builds and never touches
    OpenTelemetry; asking for traces then fails at once, naming the extra."""
    script = """
import sys
sys.modules["opentelemetry"] = None  # any import of it raises ImportError
from gateway.server.app import Gateway, create_app
from gateway.server.settings import Settings
assert type(create_app(Settings(data_dir=sys.argv[1]))) is Gateway
try:
    create_app(Settings(data_dir=sys.argv[1], otel_enabled=True))
except RuntimeError as error:
    print(error)
"""
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "pip install 'yihaotong[otel]'" in result.stdout


def _serve(env: dict[str, str], port: int, log_path) -> subprocess.Popen:
    """``yihaotong serve --workers 2``, once it answers ``/readyz``."""
    with log_path.open("wb") as output:
        process = subprocess.Popen(
            [YIHAOTONG, "serve", "--port", str(port), "--workers", "2"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    raise AssertionError(f"serve did not become ready: {log_path.read_text()[-2000:]}")


@pytest.mark.slow
async def test_each_worker_sends_its_own_spans(
    settings_for, collector: _Collector, tmp_path
) -> None:
    """Under ``serve --workers 2`` every worker has its own provider, built after it started."""
    port = free_port()
    settings = settings_for("embedded", issuer=f"http://127.0.0.1:{port}")
    machine = await service_client(settings)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("YIHAOTONG_", "OTEL_"))}
    env |= CHEAP_HASHING | {
        "YIHAOTONG_DATA_DIR": str(settings.data_dir),
        "YIHAOTONG_ISSUER": settings.issuer,
        "YIHAOTONG_OTEL_ENABLED": "true",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": collector.url,
        "OTEL_BSP_SCHEDULE_DELAY": "200",
    }
    server = _serve(env, port, tmp_path / "serve.log")
    requests = 8
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            for _ in range(requests):  # a fresh connection each: either worker may take it
                answer = await http.post(
                    "/oauth/token",
                    data={"grant_type": "client_credentials"},
                    auth=(machine.client.client_id, machine.client_secret or ""),
                    headers={"Connection": "close"},
                )
                assert answer.status_code == 200
    finally:
        os.killpg(server.pid, signal.SIGINT)
        server.wait(timeout=30)
    tokens = [
        resource
        for resource, span in collector.spans()
        if span.name == "POST /oauth/token" and span.kind == ProtoSpan.SPAN_KIND_SERVER
    ]
    assert len(tokens) == requests  # each worker sent what it held as it stopped
    pids = {resource["process.pid"] for resource in tokens}
    assert pids and str(server.pid) not in pids, pids  # the workers', not the supervisor's
    assert {resource["service.name"] for resource in tokens} == {"yihaotong"}
