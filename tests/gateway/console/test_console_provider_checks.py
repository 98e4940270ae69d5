"""登录方式 → 测试连接 against real department systems: a real slapd (bound with the service
account, and with a wrong password) and panva's oidc-provider (its discovery document, and an
issuer nobody answers at). The page says plainly whether the system can be used and why not,
never a trace; a department administrator is refused as the admin API refuses it."""

from __future__ import annotations

import pytest

from store import audit as audit_store
from tests.gateway.axe import assert_accessible
from tests.gateway.browser import hidden
from tests.gateway.console.conftest import Console, console_sign_in
from tests.gateway.console.test_console_browser import signed_in_page
from tests.gateway.helpers import second_instance
from tests.providers import oidc_idp, slapd
from tests.support import required

UNREACHABLE = "http://127.0.0.1:9"  # the discard port: nothing answers


@pytest.fixture(scope="module")
def directory(tmp_path_factory: pytest.TempPathFactory):
    required(slapd.available(), "slapd with ldap-utils (apt-get install slapd ldap-utils)")
    server = slapd.start(tmp_path_factory.mktemp("slapd"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory):
    required(oidc_idp.available(), "node with npm (for the department's OpenID provider)")
    installed = oidc_idp.install(tmp_path_factory.mktemp("idp"))
    server = oidc_idp.start(installed, "yihaotong", "department-secret", "https://x.example/cb")
    try:
        yield server
    finally:
        server.stop()


def ldap(url: str, password: str) -> dict:
    return {
        "name": "市税务局",
        "url": url,
        "bind_dn": slapd.SERVICE_DN,
        "bind_password": password,
        "user_base": f"ou=people,{slapd.SUFFIX}",
        "timeout_seconds": 2,
    }


def oidc(issuer: str) -> dict:
    return {
        "name": "市人社局",
        "issuer": issuer,
        "client_id": "yihaotong",
        "client_secret": "department-secret",
    }


async def login_systems(console: Console, directory, upstream) -> None:
    """Added through the admin API, so that the running gateway opens them."""
    async with console.world.http(console.world.city_token) as api:
        for provider_id, kind, config in (
            ("tax", "ldap", ldap(directory.url, slapd.SERVICE_PASSWORD)),
            ("tax-wrong", "ldap", ldap(directory.url, "not-the-service-secret")),
            ("hr", "oidc", oidc(upstream.url)),
            ("hr-gone", "oidc", oidc(UNREACHABLE)),
        ):
            body = {"id": provider_id, "type": kind, "config": config}
            added = await api.post("/providers", json=body)
            assert added.status_code == 201, added.text


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_the_console_tests_real_login_systems(
    chromium, console: Console, directory, upstream
) -> None:
    base = console.live.url
    await login_systems(console, directory, upstream)
    context, page = await signed_in_page(chromium, console, "root")
    expected = {
        "tax": ("登录方式连接正常。", "bound as the service account"),
        "tax-wrong": ("登录方式连接失败。", "the service account cannot bind"),
        "hr": ("登录方式连接正常。", f"issuer {upstream.url}"),
        "hr-gone": ("登录方式连接失败。", "identity provider unreachable (ConnectError)"),
    }
    try:
        for provider_id, (said, why) in expected.items():
            answer = await page.goto(f"{base}/admin/providers/{provider_id}")
            assert answer is not None and answer.status == 200, await page.content()
            await page.get_by_role("button", name="测试连接").click()
            shown = await page.get_by_role("status").inner_text()
            assert said in shown and why in shown, shown
            assert "Traceback" not in await page.content()
            await assert_accessible(page)
        await page.goto(f"{base}/admin/?lang=en")
        await page.set_viewport_size({"width": 375, "height": 800})
        for provider_id in ("tax-wrong", "hr"):
            await page.goto(f"{base}/admin/providers/{provider_id}")
            await page.get_by_role("button", name="Test the connection").click()
            await assert_accessible(page)
    finally:
        await context.close()
    async with (
        second_instance(console.live.settings) as services,
        services.database.sessions() as session,
    ):
        tested = await audit_store.query(session, event="admin.provider.tested")
    outcomes = {(e.target, e.details["ok"]) for e in tested}
    assert outcomes == {("tax", True), ("tax-wrong", False), ("hr", True), ("hr-gone", False)}


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_a_department_administrator_tests_no_login_system(
    console: Console, directory, upstream
) -> None:
    await login_systems(console, directory, upstream)
    async with console.world.http(console.world.east_token) as api:
        by_api = await api.post("/providers/tax/test")
    browser, landed = await console_sign_in(console, "east-admin")
    try:
        csrf = hidden(landed.text, "csrf_token")
        read = await browser.get("/admin/providers/tax")
        tested = await browser.post("/admin/providers/tax/test", data={"csrf_token": csrf})
    finally:
        await browser.aclose()
    assert by_api.status_code == read.status_code == tested.status_code == 403
    assert "bound as the service account" not in tested.text
