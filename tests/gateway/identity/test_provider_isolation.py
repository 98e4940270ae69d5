"""One broken department login system never takes the others down: a config that would not work
is refused before it is stored (by the command and by the admin API, naming the field), and one
that breaks after it was stored (its CA file deleted at a certificate rotation, a row stored by
an older version) is shown as unavailable while every other way of signing in keeps working."""

from __future__ import annotations

import datetime
import json
import logging
import sys
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gateway.identity.errors import InvalidInput
from gateway.server.services import Services, initialize
from tests.conftest import running_gateway
from tests.gateway.browser import Browser, hidden
from tests.gateway.cli.test_cli import in_process
from tests.gateway.helpers import second_instance
from tests.support import free_port, serve

CALLBACK = "https://portal.city.gov.cn/cb"
PASSWORD = "correct horse battery"


def write_ca(path: Path) -> Path:
    """A real self-signed CA certificate (PEM), as a department would hand over."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "市税务局 CA")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return path


def ldap_config(ca_file: Path, **changes: object) -> dict:
    return {
        "name": "市税务局",
        "url": "ldap://127.0.0.1:1",
        "start_tls": True,
        "ca_file": str(ca_file),
        "bind_dn": "cn=gateway,dc=tax,dc=city,dc=gov,dc=cn",
        "bind_password": "service-secret",
        "user_base": "ou=people,dc=tax,dc=city,dc=gov,dc=cn",
        "position": 1,
        **changes,
    }


def oidc_config(**changes: object) -> dict:
    return {
        "name": "市政务服务网",
        "issuer": "https://id.city.gov.cn",
        "client_id": "yht",
        **changes,
    }


def cas_config(**changes: object) -> dict:
    return {"name": "市教育局", "server_url": "https://cas.edu.city.gov.cn/cas", **changes}


# Each: a kind, a config that must be refused, and the field the refusal names.
def bad_configs(tmp_path: Path) -> list[tuple[str, dict, str]]:
    ca = write_ca(tmp_path / "ca.pem")
    not_pem = tmp_path / "not-a-certificate.pem"
    not_pem.write_text("just some text\n")
    sqlite_file = tmp_path / "members.db"
    sqlite_file.write_bytes(b"")
    legacy = {
        "name": "市社保局",
        "table": "members",
        "scheme": "md5",
        "columns": {"subject": "id", "username": "login", "password": "pwd"},
    }
    return [
        ("ldap", ldap_config(tmp_path / "gone.pem"), "config.ca_file"),
        ("ldap", ldap_config(not_pem), "config.ca_file"),
        ("ldap", ldap_config(ca, start_tls=False), "config.ca_file"),
        ("ldap", ldap_config(ca, url="ldaps://dir:636"), "config.start_tls"),
        ("ldap", ldap_config(ca, url="ldap://"), "config.url"),
        ("ldap", ldap_config(ca, url="ldap://dir:99999"), "config.url"),
        ("ldap", ldap_config(ca, url="http://dir"), "config.url"),
        ("ldap", ldap_config(ca, user_base="people"), "config.user_base"),
        ("ldap", ldap_config(ca, bind_dn="gateway"), "config.bind_dn"),
        ("ldap", ldap_config(ca, bind_password=None), "config.bind_password"),
        ("ldap", ldap_config(ca, user_filter="(uid={0})"), "config.user_filter"),
        ("ldap", ldap_config(ca, user_filter="uid={username}"), "config.user_filter"),
        ("ldap", ldap_config(ca, user_filter="(uid=x)"), "config.user_filter"),
        ("ldap", ldap_config(ca, enabled_filter="(!(employeeType=left)"), "config.enabled_filter"),
        ("ldap", ldap_config(ca, group_filter="(member={user})"), "config.group_filter"),
        ("ldap", ldap_config(ca, subject_attribute="entry UUID"), "config.subject_attribute"),
        ("ldap", ldap_config(ca, attributes={"name": ""}), "config.attributes"),
        ("ldap", ldap_config(ca, name="  "), "config.name"),
        ("oidc", oidc_config(issuer="https://"), "config.issuer"),
        ("oidc", oidc_config(issuer="http://id.city.gov.cn"), "config.issuer"),
        ("oidc", oidc_config(issuer="https://id.city.gov.cn?x=1"), "config.issuer"),
        ("oidc", oidc_config(issuer="https://user:pw@id.city.gov.cn"), "config.issuer"),
        ("oidc", oidc_config(token_endpoint="/token"), "config.token_endpoint"),
        ("oidc", oidc_config(jwks_uri="https://"), "config.jwks_uri"),
        (
            "oidc",
            oidc_config(
                authorization_endpoint="https://id.city.gov.cn/a",
                token_endpoint="https://id.city.gov.cn/t",
            ),
            "config.jwks_uri",
        ),
        ("oidc", oidc_config(client_id=""), "config.client_id"),
        ("oidc", oidc_config(scopes=["openid profile"]), "config.scopes"),
        ("cas", cas_config(server_url="http://"), "config.server_url"),
        ("cas", cas_config(server_url="http://cas.edu.city.gov.cn/cas"), "config.server_url"),
        ("cas", cas_config(server_url="cas.edu.city.gov.cn"), "config.server_url"),
        ("legacy_sql", {**legacy, "url": f"sqlite:///{tmp_path / 'none.db'}"}, "config.url"),
        ("legacy_sql", {**legacy, "url": "not a url"}, "config.url"),
        ("legacy_sql", {**legacy, "url": "mysql://db.social/members"}, "config.url"),
        (
            "legacy_sql",
            {**legacy, "url": f"sqlite:///{sqlite_file}", "table": "a;b"},
            "config.table",
        ),
        (
            "legacy_sql",
            {**legacy, "url": f"sqlite:///{sqlite_file}", "columns": {"subject": "id"}},
            "config.columns",
        ),
    ]


@pytest.fixture
def cli(tmp_path: Path):
    """The command, called in this process."""
    return in_process(tmp_path / "var")


def listed(cli) -> list[dict]:
    result = cli("providers", "list", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["providers"]


async def test_the_storing_service_refuses_every_bad_field_and_stores_nothing(
    settings_for, tmp_path: Path
) -> None:
    settings = settings_for("embedded")
    await initialize(settings)
    async with second_instance(settings) as services:
        for kind, config, field in bad_configs(tmp_path):
            with pytest.raises(InvalidInput) as refused:
                await services.login_systems.add("dept", kind, config)
            assert refused.value.field == field, (config, str(refused.value))
            assert "service-secret" not in str(refused.value)
        assert await services.login_systems.listing() == []
        assert await services.logins.all() == []


def test_the_command_refuses_a_bad_config_naming_the_field_and_stores_nothing(
    cli, tmp_path: Path
) -> None:
    assert cli("init").returncode == 0
    # The three of the report, and one of each other kind of check.
    cases = [bad_configs(tmp_path)[i] for i in (0, 1, 18, 27, 10, 30)]
    for number, (kind, config, field) in enumerate(cases):
        file = tmp_path / f"config-{number}.json"
        file.write_text(json.dumps(config), encoding="utf-8")
        result = cli(
            "providers", "add", "--id", f"p{number}", "--type", kind, "--config", str(file)
        )
        assert result.returncode != 0, (kind, config)
        assert result.stderr.startswith(f"error: {field}: "), (field, result.stderr)
        assert "Traceback" not in result.stderr and result.stdout == ""
        assert "service-secret" not in result.stderr
    assert listed(cli) == [], "nothing was stored"


def test_a_config_broken_after_it_was_stored_is_listed_with_its_error(cli, tmp_path: Path) -> None:
    ca = write_ca(tmp_path / "tax-ca.pem")
    file = tmp_path / "tax.json"
    file.write_text(json.dumps(ldap_config(ca)), encoding="utf-8")
    added = cli("providers", "add", "--id", "tax", "--type", "ldap", "--config", str(file))
    assert added.returncode == 0, added.stderr
    ca.unlink()  # the certificate rotation forgot this department
    [tax] = listed(cli)
    assert tax["id"] == "tax" and tax["name"] == "市税务局" and tax["available"] is False
    assert tax["error"].startswith("config.ca_file: ") and "does not exist" in tax["error"]
    text = cli("providers", "list")
    assert text.returncode == 0 and "unavailable: config.ca_file" in text.stdout
    assert "service-secret" not in text.stdout + text.stderr


@pytest.mark.parametrize("backend", ["embedded"])
async def test_the_admin_api_refuses_a_bad_config_with_problem_json(
    live_server, tmp_path: Path
) -> None:
    from tests.gateway.admin.conftest import build_world

    world = await build_world(live_server)
    async with world.http(world.city_token) as http:
        for kind, config, field in bad_configs(tmp_path)[::3]:
            body = {"id": "dept", "type": kind, "config": config}
            answer = await http.post("/providers", json=body)
            assert answer.status_code in (400, 422), answer.text
            assert answer.headers["content-type"].startswith("application/problem+json")
            problem = answer.json()
            named = [e["field"] for e in problem.get("errors", [])]
            assert f"body.{field}" in named, (field, problem)
        assert (await http.get("/providers")).json()["items"] == []
        async with second_instance(live_server.settings) as admin:
            await store_as_an_older_version_did(
                admin, "gov", "oidc", oidc_config(issuer="https://")
            )
        ca = write_ca(tmp_path / "ok-ca.pem")
        added = await http.post(
            "/providers", json={"id": "tax", "type": "ldap", "config": ldap_config(ca)}
        )
        assert added.status_code == 201, added.text
        listing = (await http.get("/providers")).json()["items"]
        gov = await http.get("/providers/gov")
        removed = await http.delete("/providers/gov")
    assert [(p["id"], p["available"]) for p in listing] == [("tax", True), ("gov", False)]
    assert listing[1]["error"].startswith("config.issuer: ")
    assert gov.status_code == 200 and gov.json()["available"] is False
    assert removed.status_code == 204, "a broken one can be removed"


def authorize_url(base: str, client_id: str) -> str:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": CALLBACK,
        "scope": "openid",
        "state": "s",
    }
    return f"{base}/oauth/authorize?{urlencode(params)}"


async def store_as_an_older_version_did(
    services: Services, provider_id: str, kind: str, config: dict
) -> None:
    """A row written without today's checks (before them, or by hand)."""
    sealed = services.master_key.encrypt(json.dumps(config).encode(), f"provider:{provider_id}")
    await services.logins.add(provider_id, kind, sealed, services.clock.now())


@pytest.mark.parametrize("backend", ["embedded", "services"])
async def test_sign_in_keeps_working_when_a_stored_department_breaks(
    settings_for, backend: str, tmp_path: Path, caplog
) -> None:
    caplog.set_level(logging.INFO, logger="yihaotong.departments")
    ca = write_ca(tmp_path / "tax-ca.pem")
    with running_gateway(settings_for, backend) as live:
        async with second_instance(live.settings) as admin:
            await admin.login_systems.add("tax", "ldap", ldap_config(ca))
            await store_as_an_older_version_did(
                admin, "gov", "oidc", oidc_config(issuer="https://")
            )
            await store_as_an_older_version_did(
                admin, "edu", "cas", cas_config(server_url="http://", position=5)
            )
            await admin.accounts.create_local(username="wang", password=PASSWORD)
            client = await admin.clients.register(name="市民门户", redirect_uris=[CALLBACK])
        ca.unlink()  # deleted after it was stored, before this instance opened it
        browser = Browser(live.url)
        try:
            page = await browser.go(authorize_url(live.url, client.client.client_id))
            assert page.status_code == 200, page.text
            for name in ("市税务局", "市政务服务网", "市教育局"):
                assert f"{name}（暂不可用）" in page.text
            assert 'value="tax"' not in page.text and "/login/start/gov" not in page.text
            tx = hidden(page.text, "tx")
            form = {"tx": tx, "csrf_token": hidden(page.text, "csrf_token")}
            # Its own sign-in answers a clear page, uncounted, not a 500.
            for _ in range(7):
                broken = await browser.http.post(
                    "/login",
                    data={**form, "username": "zhangwei", "password": "x", "provider": "tax"},
                )
                assert broken.status_code == 503
                assert "市税务局的登录系统暂不可用" in broken.text
            for provider in ("gov", "edu"):
                start = await browser.http.get(f"/login/start/{provider}?tx={tx}")
                assert start.status_code == 503 and "的登录系统暂不可用" in start.text
            local = await browser.http.post(
                "/login",
                data={**form, "username": "wang", "password": PASSWORD, "provider": "local"},
            )
            assert local.status_code == 303, local.text
            arrival = await browser.http.get(local.headers["location"])
            assert httpx.URL(arrival.headers["location"]).params.get("code")
        finally:
            await browser.close()
    problems = [
        r for r in caplog.records if getattr(r, "fields", {}).get("event") == "provider.unavailable"
    ]
    assert sorted(r.fields["provider"] for r in problems) == ["edu", "gov", "tax"], "once each"
    logged = " ".join(f"{r.getMessage()} {r.fields}" for r in caplog.records)
    assert "service-secret" not in logged
    # A gateway started with these rows starts, and serves the page.
    with running_gateway(settings_for, backend, **_same_store(live.settings)) as again:
        async with httpx.AsyncClient(base_url=again.url) as http:
            assert (await http.get("/healthz")).status_code == 200
        browser = Browser(again.url)
        try:
            page = await browser.go(authorize_url(again.url, client.client.client_id))
            assert page.status_code == 200 and "市税务局（暂不可用）" in page.text
        finally:
            await browser.close()


def _same_store(settings) -> dict:
    """Overrides that point another gateway at the same data (its issuer is its own)."""
    values = {"data_dir": settings.data_dir}
    if settings.redis_url:
        values |= {"redis_url": settings.redis_url, "redis_prefix": settings.redis_prefix}
    if settings.database_url:
        values["database_url"] = settings.database_url
    return values


@pytest.fixture
def half_an_upstream(tmp_path: Path):
    """A real HTTP server whose discovery document names its issuer and nothing else."""
    port = free_port()
    root = tmp_path / "upstream"
    (root / ".well-known").mkdir(parents=True)
    issuer = f"http://127.0.0.1:{port}"
    (root / ".well-known" / "openid-configuration").write_text(json.dumps({"issuer": issuer}))
    command = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    server = serve(command, port, issuer, tmp_path / "http.log", cwd=root)
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("backend", ["embedded"])
async def test_an_upstream_whose_discovery_fails_is_shown_unavailable(
    live_server, half_an_upstream, caplog
) -> None:
    caplog.set_level(logging.INFO, logger="yihaotong.departments")
    async with second_instance(live_server.settings) as admin:
        await admin.login_systems.add("gov", "oidc", oidc_config(issuer=half_an_upstream.url))
        await admin.accounts.create_local(username="wang", password=PASSWORD)
        client = await admin.clients.register(name="市民门户", redirect_uris=[CALLBACK])
    browser = Browser(live_server.url)
    try:
        page = await browser.go(authorize_url(live_server.url, client.client.client_id))
        assert "/login/start/gov" in page.text
        tx = hidden(page.text, "tx")
        for _ in range(3):
            start = await browser.http.get(f"/login/start/gov?tx={tx}")
            assert start.status_code == 503, start.text
            assert "市政务服务网的登录系统暂时无法连接" in start.text
            assert "市政务服务网（暂不可用）" in start.text and "/login/start/gov" not in start.text
        again = await browser.http.get(f"/login?tx={tx}")
        assert again.status_code == 200 and "市政务服务网（暂不可用）" in again.text
        form = {"tx": tx, "csrf_token": hidden(again.text, "csrf_token")}
        local = await browser.http.post(
            "/login", data={**form, "username": "wang", "password": PASSWORD, "provider": "local"}
        )
        assert local.status_code == 303
    finally:
        await browser.close()
    down = [
        r for r in caplog.records if getattr(r, "fields", {}).get("event") == "provider.unavailable"
    ]
    assert len(down) == 1 and "authorization_endpoint" in down[0].fields["reason"], "logged once"
