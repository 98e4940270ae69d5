"""一号通's CAS server end to end with real CAS clients: a Django app using django-cas-ng
(provisioned with ``yihaotong clients create --protocol cas``), access policies and step-up as
for OIDC apps, proxy tickets, and single logout started from an OIDC app."""

from __future__ import annotations

import asyncio
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pyotp
import pytest

from gateway.admin import org
from gateway.admin.changes import CLI
from gateway.admin.reach import Reach
from tests.conftest import free_port
from tests.gateway.browser import hidden
from tests.gateway.cas import cas_app
from tests.gateway.cas.conftest import PASSWORD
from tests.gateway.helpers import second_instance
from tests.gateway.sso import CALLBACK, authorize_url, code_of, exchange
from tests.support import required


@pytest.fixture
async def department_app(cas_world, tmp_path):
    required(cas_app.available(), "django-cas-ng and python-cas (pip install '.[test]')")
    app = cas_app.start(tmp_path / "app", cas_world["live"].url)
    try:
        registered = await cas_world["command"].cas_app("不动产登记", f"{app.url}/accounts/login/")
        yield app, registered
    finally:
        app.stop()


async def _into_the_app(world, app_url: str) -> httpx.Response:
    """The person opens the app's private page and signs in at 一号通 when asked."""
    http = world["browser"].http
    first = await http.get(f"{app_url}/private/")
    assert first.status_code == 302
    to_login = await http.get(app_url + first.headers["location"])
    assert to_login.headers["location"].startswith(f"{world['live'].url}/cas/login?service=")
    arrival = await world["browser"].go(
        to_login.headers["location"], username="wang", password=PASSWORD
    )
    return arrival


async def _private_page(world, app_url: str, arrival: httpx.Response) -> dict:
    http = world["browser"].http
    assert arrival.status_code == 303, arrival.text
    back = await http.get(arrival.headers["location"])  # the app validates the ticket
    assert back.status_code == 302, back.text
    page = await http.get(app_url + "/private/")
    assert page.status_code == 200, page.text
    return page.json()


async def _signed_out(world, app_url: str) -> bool:
    response = await world["browser"].http.get(f"{app_url}/private/")
    return response.status_code == 302


async def test_a_django_cas_ng_app_and_single_logout_from_an_oidc_app(
    cas_world, department_app
) -> None:
    live, browser = cas_world["live"], cas_world["browser"]
    app, _ = department_app
    arrival = await _into_the_app(cas_world, app.url)
    seen = await _private_page(cas_world, app.url, arrival)
    assert seen["username"] == cas_world["account"].id
    assert seen["attributes"]["name"] == "王小明" and seen["attributes"]["acr"] == "L1"

    # The same person then uses an OIDC app in the same session, and signs out there.
    async with second_instance(live.settings) as admin:
        tax = await admin.clients.register(
            name="税务服务", redirect_uris=[CALLBACK], post_logout_redirect_uris=[CALLBACK]
        )
    code = code_of(await browser.go(authorize_url(live.url, tax.client.client_id)))
    id_token = (await exchange(live, tax, code)).json()["id_token"]
    logout = await browser.http.get(
        "/oauth/logout", params={"id_token_hint": id_token, "post_logout_redirect_uri": CALLBACK}
    )
    assert logout.status_code == 303
    # The CAS app's own session ends by the logoutRequest the gateway POSTs to it.
    deadline = time.monotonic() + 20
    while not await _signed_out(cas_world, app.url):
        assert time.monotonic() < deadline, "the CAS app was not logged out"
        await asyncio.sleep(0.2)


async def test_logout_at_the_cas_app_ends_the_sso_session(cas_world, department_app) -> None:
    live, browser = cas_world["live"], cas_world["browser"]
    app, _ = department_app
    await _private_page(cas_world, app.url, await _into_the_app(cas_world, app.url))
    out = await browser.http.get(f"{app.url}/accounts/logout/")
    assert out.headers["location"].startswith(f"{live.url}/cas/logout")
    await browser.http.get(out.headers["location"])
    again = await browser.http.get("/cas/login", params={"service": f"{app.url}/accounts/login/"})
    assert again.headers["location"].startswith("/login?tx=")


async def test_access_policy_and_step_up_apply_to_cas_apps(cas_world, department_app) -> None:
    live, command = cas_world["live"], cas_world["command"]
    app, registered = department_app
    account = cas_world["account"]
    async with second_instance(live.settings) as admin:
        secret, _ = await admin.otp.begin(account.id, "wang")
        totp = pyotp.TOTP(secret)
        assert await admin.otp.verify(account.id, totp.at(time.time() - 30), confirming=True)
    await command("policies", "set", registered["client_id"], "-", stdin='{"mfa": true}')
    arrival = await _into_the_app(cas_world, app.url)
    # Signed in with a password; the app needs a second factor: the code page, then the app.
    assert arrival.status_code == 200 and arrival.request.url.path == "/login/otp"
    answered = await cas_world["browser"].http.post(
        "/login/otp",
        data={
            "tx": hidden(arrival.text, "tx"),
            "csrf_token": hidden(arrival.text, "csrf_token"),
            "code": totp.now(),
        },
    )
    arrival = await cas_world["browser"].go(answered.headers["location"])
    seen = await _private_page(cas_world, app.url, arrival)
    assert sorted(seen["attributes"]["amr"]) == ["otp", "pwd"]

    # The live gateway caches policies a while: a new app shows a new one at once.
    other = await command.cas_app("内部办公", "https://office.example.gov.cn/cas/")
    await command("policies", "set", other["client_id"], "-", stdin='{"kinds": ["staff"]}')
    login = f"{live.url}/cas/login?{urlencode({'service': 'https://office.example.gov.cn/cas/'})}"
    # A service the gateway does not know yet is read again at most once a second: poll.
    deadline = asyncio.get_running_loop().time() + 10
    while (denied := await cas_world["browser"].go(login)).status_code == 400:
        assert asyncio.get_running_loop().time() < deadline, denied.text[-600:]
        await asyncio.sleep(0.2)
    assert denied.status_code == 403 and "ticket=" not in denied.text, denied.text[-600:]


class _Callbacks(BaseHTTPRequestHandler):
    """A proxying app's pgtUrl (and its service): records what the gateway sends."""

    received: ClassVar[list[dict[str, str]]] = []

    def do_GET(self) -> None:
        query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
        if "pgtId" in query:
            type(self).received.append(query)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def proxy_callback():
    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), _Callbacks)
    _Callbacks.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.shutdown()
        server.server_close()


async def test_proxy_tickets_for_an_app_allowed_to_proxy(cas_world, proxy_callback) -> None:
    live, command = cas_world["live"], cas_world["command"]
    await command.cas_app("政务门户", proxy_callback + "*", options=("--cas-proxy",))
    await command.cas_app("证照库", "https://licences.example.gov.cn/api/")
    service = proxy_callback + "portal/"
    arrival = await cas_world["browser"].go(
        f"{live.url}/cas/login?{urlencode({'service': service})}",
        username="wang",
        password=PASSWORD,
    )
    ticket = parse_qs(urlsplit(arrival.headers["location"]).query)["ticket"][0]
    async with httpx.AsyncClient(base_url=live.url) as http:
        # A callback outside the app's service URLs is refused, and so is the ticket after.
        elsewhere = "https://elsewhere.example/pgt"
        outside = await http.get("/cas/p3/serviceValidate", params={
            "service": service, "ticket": ticket, "pgtUrl": elsewhere})  # fmt: skip
        assert 'code="INVALID_PROXY_CALLBACK"' in outside.text
        arrival = await cas_world["browser"].go(
            f"{live.url}/cas/login?{urlencode({'service': service})}"
        )
        ticket = parse_qs(urlsplit(arrival.headers["location"]).query)["ticket"][0]
        validated = await http.get("/cas/p3/serviceValidate", params={
            "service": service, "ticket": ticket, "pgtUrl": proxy_callback + "pgt",
            "format": "JSON"})  # fmt: skip
        success = validated.json()["serviceResponse"]["authenticationSuccess"]
        [callback] = _Callbacks.received
        assert success["proxyGrantingTicket"] == callback["pgtIou"]
        target = "https://licences.example.gov.cn/api/"
        proxied = await http.get("/cas/proxy", params={"pgt": callback["pgtId"],
                                                       "targetService": target})  # fmt: skip
        assert "<cas:proxySuccess>" in proxied.text
        proxy_ticket = proxied.text.split("<cas:proxyTicket>")[1].split("<")[0]
        assert proxy_ticket.startswith("PT-")
        # A proxy ticket is no service ticket (§2.5), and /proxyValidate names the proxies.
        refused = await http.get(
            "/cas/serviceValidate", params={"service": target, "ticket": proxy_ticket}
        )
        assert 'code="INVALID_TICKET_SPEC"' in refused.text
        proxied = await http.get("/cas/proxy", params={"pgt": callback["pgtId"],
                                                       "targetService": target})  # fmt: skip
        proxy_ticket = proxied.text.split("<cas:proxyTicket>")[1].split("<")[0]
        valid = await http.get(
            "/cas/p3/proxyValidate", params={"service": target, "ticket": proxy_ticket}
        )
        assert "<cas:proxy>" + proxy_callback + "pgt</cas:proxy>" in valid.text
        for params, code in (
            ({"pgt": callback["pgtId"], "targetService": "https://evil.example/"},
             "UNAUTHORIZED_SERVICE"),
            ({"pgt": "PGT-forged", "targetService": target}, "INVALID_TICKET"),
            ({"pgt": callback["pgtId"]}, "INVALID_REQUEST"),
        ):  # fmt: skip
            failed = await http.get("/cas/proxy", params=params)
            assert f'code="{code}"' in failed.text, params


async def test_no_proxy_tickets_for_another_departments_app(cas_world, proxy_callback) -> None:
    live, command = cas_world["live"], cas_world["command"]
    async with second_instance(live.settings) as services:
        for department in ("east", "west"):
            await org.create_department(
                services, CLI, Reach.everywhere(), department, department, None
            )
    await command.cas_app("东区门户", proxy_callback + "*",
                          options=("--cas-proxy", "--department", "east"))  # fmt: skip
    await command.cas_app("西区证照库", "https://licences.example.gov.cn/api/",
                          options=("--department", "west"))  # fmt: skip
    service = proxy_callback + "portal/"
    arrival = await cas_world["browser"].go(
        f"{live.url}/cas/login?{urlencode({'service': service})}",
        username="wang",
        password=PASSWORD,
    )
    ticket = parse_qs(urlsplit(arrival.headers["location"]).query)["ticket"][0]
    async with httpx.AsyncClient(base_url=live.url) as http:
        validated = await http.get("/cas/p3/serviceValidate", params={
            "service": service, "ticket": ticket, "pgtUrl": proxy_callback + "pgt"})  # fmt: skip
        assert "<cas:proxyGrantingTicket>" in validated.text
        [callback] = _Callbacks.received
        target = "https://licences.example.gov.cn/api/"
        proxied = await http.get("/cas/proxy", params={"pgt": callback["pgtId"],
                                                       "targetService": target})  # fmt: skip
        assert 'code="UNAUTHORIZED_SERVICE"' in proxied.text
