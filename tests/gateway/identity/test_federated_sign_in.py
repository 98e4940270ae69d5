"""Signing in at 一号通 with a department's credentials, through the sign-in page, against the
real upstream (slapd; a legacy users table), ending in ID tokens whose claims follow the mapping."""

from __future__ import annotations

import hashlib
import logging
import subprocess
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from gateway.pages.lockout import RULES
from tests.gateway import helpers
from tests.gateway.browser import Browser, hidden
from tests.gateway.helpers import second_instance
from tests.providers import slapd
from tests.support import required

CALLBACK = "https://portal.city.gov.cn/cb"
NATIONAL_ID = "11010519491231002X"


@pytest.fixture(scope="module")
def directory(tmp_path_factory: pytest.TempPathFactory):
    required(slapd.available(), "slapd with ldap-utils (apt-get install slapd ldap-utils)")
    server = slapd.start(tmp_path_factory.mktemp("slapd"))
    try:
        yield server
    finally:
        server.stop()


def ldap_config(url: str, **changes: object) -> dict:
    return {
        "name": "市税务局",
        "url": url,
        "bind_dn": slapd.SERVICE_DN,
        "bind_password": slapd.SERVICE_PASSWORD,
        "user_base": f"ou=people,{slapd.SUFFIX}",
        "group_base": f"ou=groups,{slapd.SUFFIX}",
        "verified": ["email"],
        "assurance": "L2",
        "timeout_seconds": 2,
        "position": 1,
        **changes,
    }


@pytest.fixture
async def legacy_table(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'social.db'}"
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        await connection.execute(
            sa.text(
                "CREATE TABLE members (id INTEGER PRIMARY KEY, login TEXT, pwd TEXT,"
                " realname TEXT, idno TEXT, mobile TEXT)"
            )
        )
        await connection.execute(
            sa.text("INSERT INTO members VALUES (42, 'chenjing', :pwd, '陈静', :idno, :mobile)"),
            {
                "pwd": hashlib.md5(b"s0cial-pass").hexdigest(),
                "idno": NATIONAL_ID,
                "mobile": "13600136000",
            },
        )
    await engine.dispose()
    return url


@pytest.fixture
async def portal(live_server, directory, legacy_table):
    async with second_instance(live_server.settings) as admin:
        await admin.login_systems.add("tax", "ldap", ldap_config(directory.url))
        await admin.login_systems.add(
            "social",
            "legacy_sql",
            {
                "name": "市社保局",
                "url": legacy_table,
                "table": "members",
                "scheme": "md5",
                "columns": {
                    "subject": "id",
                    "username": "login",
                    "password": "pwd",
                    "name": "realname",
                    "national_id": "idno",
                    "phone": "mobile",
                },
                "verified": ["national_id"],
                "assurance": "L2",
                "position": 2,
            },
        )
        await admin.login_systems.add(
            "down", "ldap", ldap_config("ldap://127.0.0.1:1", name="市公积金中心", position=3)
        )
        await admin.accounts.create_local(
            username="wang", password="correct horse battery", phone="13900139000"
        )
        client = await admin.clients.register(name="市民门户", redirect_uris=[CALLBACK])
    return live_server, client


def authorize_url(base: str, client_id: str, **extra: str) -> str:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": CALLBACK,
        "scope": "openid profile email",
        "state": "s",
        **extra,
    }
    return f"{base}/oauth/authorize?{urlencode(params)}"


async def id_token_after(live, client, arrival: httpx.Response) -> dict:
    return await helpers.id_token_after(live.url, client, arrival, CALLBACK)


async def sign_in_afresh(live, client, username: str, password: str, provider: str) -> dict:
    """Sign in from a new browser through ``provider``; the ID token claims it ends in."""
    browser = Browser(live.url)
    try:
        arrival = await browser.go(
            authorize_url(live.url, client.client.client_id),
            username=username,
            password=password,
            provider=provider,
        )
        return await id_token_after(live, client, arrival)
    finally:
        await browser.close()


async def test_ldap_sign_in_through_the_page(portal) -> None:
    live, client = portal
    browser = Browser(live.url)
    try:
        page = await browser.go(authorize_url(live.url, client.client.client_id, idp_hint="tax"))
        assert '<option value="tax" selected>市税务局</option>' in page.text
        assert (
            page.text.index("市税务局")
            < page.text.index("市社保局")
            < page.text.index("市公积金中心")
        )
        arrival = await browser.go(
            authorize_url(live.url, client.client.client_id),
            username="zhangwei",
            password="tax-password-1",
            provider="tax",
        )
        claims = await id_token_after(live, client, arrival)
        assert claims["name"] == "张伟" and claims["email"] == "zhangwei@tax.city.gov.cn"
        assert claims["acr"] == "L2", "the department's assurance level"
        again = await sign_in_afresh(live, client, "zhangwei", "tax-password-1", "tax")
        assert again["sub"] == claims["sub"]
    finally:
        await browser.close()


async def test_legacy_passwords_move_into_yihaotong(portal, legacy_table) -> None:
    live, client = portal
    browser = Browser(live.url)
    try:
        first = await browser.go(
            authorize_url(live.url, client.client.client_id),
            username="chenjing",
            password="s0cial-pass",
            provider="social",
        )
        claims = await id_token_after(live, client, first)
        assert claims["name"] == "陈静"
    finally:
        await browser.close()
    engine = create_async_engine(legacy_table)
    async with engine.begin() as connection:  # the department retires its table
        await connection.execute(sa.text("DROP TABLE members"))
    await engine.dispose()
    for password, works in (("s0cial-pass", True), ("wrong-pass", False)):
        browser = Browser(live.url)
        try:
            arrival = await browser.go(
                authorize_url(live.url, client.client.client_id),
                username="chenjing",
                password=password,
                provider="social",
            )
            if works:
                assert (await id_token_after(live, client, arrival))["sub"] == claims["sub"]
            else:
                assert arrival.status_code == 400 and "用户名或密码不正确" in arrival.text
        finally:
            await browser.close()


async def test_a_department_that_is_down_is_named_and_others_still_work(portal) -> None:
    live, client = portal
    browser = Browser(live.url)
    try:
        down = await browser.go(
            authorize_url(live.url, client.client.client_id),
            username="anyone",
            password="whatever",
            provider="down",
        )
        assert down.status_code == 503 and "市公积金中心的登录系统暂时无法连接" in down.text
        form = {
            "tx": hidden(down.text, "tx"),
            "csrf_token": hidden(down.text, "csrf_token"),
            "username": "wang",
            "password": "correct horse battery",
            "provider": "local",
        }
        local = await browser.http.post("/login", data=form)
        assert local.status_code == 303
    finally:
        await browser.close()


async def test_weak_evidence_links_after_signing_in_to_the_account(portal, directory) -> None:
    live, client = portal
    async with second_instance(live.settings) as admin:
        # A second view of the same directory that vouches for phones but is not trusted for them.
        await admin.login_systems.add(
            "tax2",
            "ldap",
            ldap_config(directory.url, name="市税务局（移动）", verified=["phone"], position=4),
        )
    browser = Browser(live.url)
    try:
        asked = await browser.go(
            authorize_url(live.url, client.client.client_id),
            username="zhangwei",
            password="tax-password-1",
            provider="tax2",
        )
        assert asked.status_code == 400 and "请先用该一号通账号登录" in asked.text
        assert '<option value="local" selected>' in asked.text
        proof = {
            "tx": hidden(asked.text, "tx"),
            "csrf_token": hidden(asked.text, "csrf_token"),
            "username": "wang",
            "password": "correct horse battery",
            "provider": "local",
        }
        signed_in = await browser.http.post("/login", data=proof)
        arrival = await browser.http.get(signed_in.headers["location"])
        wang = await id_token_after(live, client, arrival)
    finally:
        await browser.close()
    linked = await sign_in_afresh(live, client, "zhangwei", "tax-password-1", "tax2")
    assert linked["sub"] == wang["sub"]


async def test_linked_accounts_are_shown_and_can_be_removed(portal) -> None:
    live, client = portal
    browser = Browser(live.url)
    try:
        await browser.go(
            authorize_url(live.url, client.client.client_id),
            username="zhangwei",
            password="tax-password-1",
            provider="tax",
        )
        page = await browser.http.get("/account/sessions")
        assert "关联的部门账号" in page.text and "市税务局" in page.text
        links_form = page.text.split('action="/account/links"')[1]
        removed = await browser.http.post(
            "/account/links",
            data={
                "csrf_token": hidden(links_form, "csrf_token"),
                "provider_id": "tax",
                "subject": hidden(links_form, "subject"),
            },
        )
        assert removed.status_code == 303
        after = await browser.http.get("/account/sessions")
        assert "没有关联的部门账号" in after.text
    finally:
        await browser.close()


async def test_no_pii_or_password_reaches_the_logs(portal, caplog) -> None:
    live, client = portal
    caplog.set_level(logging.DEBUG)
    browser = Browser(live.url)
    try:
        arrival = await browser.go(
            authorize_url(live.url, client.client.client_id),
            username="chenjing",
            password="s0cial-pass",
            provider="social",
        )
        assert (await id_token_after(live, client, arrival))["name"] == "陈静"
        await browser.go(
            authorize_url(live.url, client.client.client_id, prompt="login"),
            username="chenjing",
            password="wrong-pass-1",
            provider="social",
        )
    finally:
        await browser.close()
    logged = "\n".join(
        f"{record.getMessage()} {getattr(record, 'fields', '')}" for record in caplog.records
    )
    assert "account.provisioned" in logged  # the audit lines are there
    for secret in (NATIONAL_ID, "13600136000", "s0cial-pass", "wrong-pass-1", "19491231"):
        assert secret not in logged, secret


async def test_a_user_removed_from_the_directory_cannot_refresh(
    portal, directory, tmp_path, receiver
) -> None:
    live, client = portal
    async with second_instance(live.settings) as admin:
        office = await admin.clients.register(
            name="移动办公", redirect_uris=[CALLBACK], backchannel_logout_uri=receiver.uri("office")
        )
    ldif = tmp_path / "leaver.ldif"
    ldif.write_text(
        f"dn: uid=leaver,ou=people,{slapd.SUFFIX}\nobjectClass: inetOrgPerson\nuid: leaver\n"
        "cn: Leaver\nsn: Leaver\nuserPassword: leaving-soon\n",
        encoding="utf-8",
    )
    admin = ["-x", "-H", directory.url, "-D", slapd.ADMIN_DN, "-w", slapd.ADMIN_PASSWORD]
    subprocess.run(["ldapadd", *admin, "-f", str(ldif)], check=True, capture_output=True)
    browser = Browser(live.url)
    try:
        arrival = await browser.go(
            authorize_url(live.url, client.client.client_id),
            username="leaver",
            password="leaving-soon",
            provider="tax",
        )
        code = httpx.URL(arrival.headers["location"]).params["code"]
        # The same session signs in to a second app, which takes back-channel logout.
        assert (
            "code="
            in (await browser.go(authorize_url(live.url, office.client.client_id))).headers[
                "location"
            ]
        )
        auth = (client.client.client_id, client.client_secret)
        async with httpx.AsyncClient(base_url=live.url) as http:
            tokens = (
                await http.post(
                    "/oauth/token",
                    data={
                        "grant_type": "authorization_code",
                        "code": code,
                        "redirect_uri": CALLBACK,
                    },
                    auth=auth,
                )
            ).json()
            still = await http.post(
                "/oauth/token",
                data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                auth=auth,
            )
            assert still.status_code == 200
            subprocess.run(
                ["ldapdelete", *admin, f"uid=leaver,ou=people,{slapd.SUFFIX}"],
                check=True,
                capture_output=True,
            )
            refused = await http.post(
                "/oauth/token",
                data={
                    "grant_type": "refresh_token",
                    "refresh_token": still.json()["refresh_token"],
                },
                auth=auth,
            )
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
        # The session ended as a sign-out ends one: the other app is told.
        await receiver.wait_for(1)
        assert [path for path, _ in receiver.received] == ["/office/bcl"]
        silent = await browser.go(authorize_url(live.url, client.client.client_id, prompt="none"))
        assert httpx.URL(silent.headers["location"]).params["error"] == "login_required"
    finally:
        await browser.close()


async def test_a_locked_or_disabled_directory_account_is_told_so_and_not_counted(
    portal, directory
) -> None:
    """The directory locks ``locked`` after wrong binds at the directory itself, and reports it
    only in the password policy control; ``left`` is excluded by the enabled filter."""
    live, client = portal
    dn = f"uid=locked,ou=people,{slapd.SUFFIX}"
    for _ in range(slapd.MAX_FAILURES):
        wrong = ["ldapwhoami", "-x", "-H", directory.url, "-D", dn, "-w", "not-the-password"]
        assert subprocess.run(wrong, capture_output=True).returncode != 0
    assert slapd.lock_state(directory, "locked") is not None
    async with second_instance(live.settings) as admin:
        await admin.login_systems.add(
            "tax-hr",
            "ldap",
            ldap_config(directory.url, enabled_filter="(!(employeeType=left))", position=5),
        )
    browser = Browser(live.url)
    try:
        page = await browser.go(authorize_url(live.url, client.client.client_id))
        form = {"tx": hidden(page.text, "tx"), "csrf_token": hidden(page.text, "csrf_token")}

        async def attempt(username: str, password: str, provider: str) -> httpx.Response:
            data = {**form, "username": username, "password": password, "provider": provider}
            return await browser.http.post("/login", data=data)

        locked = "您在市税务局的账号已被锁定或停用，请联系该部门。"
        # More attempts than the lockout allows a name: none of them counts.
        for _ in range(RULES.account_failures + 1):
            for password in ("locked-password", "not-the-password"):
                answer = await attempt("locked", password, "tax")
                assert answer.status_code == 400 and locked in answer.text, answer.text
            answer = await attempt("left", "left-password", "tax-hr")
            assert answer.status_code == 400 and locked in answer.text
        # To a stranger, a disabled account is an unknown name: the password decides the words.
        stranger = await attempt("left", "a-guess", "tax-hr")
        assert stranger.status_code == 400 and "用户名或密码不正确" in stranger.text
        renewed = await attempt("renewed", "reset-password", "tax")
        assert renewed.status_code == 400
        assert "您在市税务局的密码已过期或须修改，请先到该部门修改密码后再登录。" in renewed.text
        # Its owner's own way in was never locked by us.
        assert "尝试次数过多" not in stranger.text + renewed.text
        left_elsewhere = await attempt("left", "left-password", "tax")
        assert left_elsewhere.status_code == 303, "the same person, without the enabled filter"
    finally:
        await browser.close()
