"""登录方式: a login system added with its kind's form is the admin API's (stored encrypted,
its settings never shown, audited by name only), removed at the version it was read at;
city-wide administrators only."""

from __future__ import annotations

import sqlite3
from html import unescape
from pathlib import Path

import httpx

from tests.gateway.browser import hidden
from tests.gateway.console.conftest import Console, console_sign_in

SECRET = "members-of-the-social-security-office"  # the database's file: a setting


def legacy_form(tmp_path: Path, csrf: str, provider_id: str) -> dict[str, str]:
    database = tmp_path / f"{SECRET}.db"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE IF NOT EXISTS members (id, login, pwd)")
    return {
        "csrf_token": csrf,
        "type": "legacy_sql",
        "id": provider_id,
        "cfg_name": "市社保局",
        "cfg_url": f"sqlite:///{database}",
        "cfg_table": "members",
        "cfg_scheme": "md5",
        "cfg_assurance": "L2",
        "cfg_trusted_for": "phone",
        "cfg_columns": '{"subject": "id", "username": "login", "password": "pwd"}',
    }


async def csrf_of(http: httpx.AsyncClient, path: str) -> str:
    return hidden((await http.get(path)).text, "csrf_token")


async def test_a_login_system_added_and_removed_from_the_console(
    console: Console, tmp_path: Path
) -> None:
    http, _ = await console_sign_in(console, "root")
    try:
        csrf = await csrf_of(http, "/admin/providers/new?type=legacy_sql")
        added = await http.post("/admin/providers", data=legacy_form(tmp_path, csrf, "social"))
        assert added.status_code == 303, added.text
        page = await http.get(added.headers["location"])
        assert "登录方式已新增。" in page.text and "市社保局" in page.text
        assert SECRET not in page.text  # never its settings
        async with console.world.http(console.world.city_token) as api:
            found = (await api.get("/providers/social")).json()
            assert (found["type"], found["assurance"], found["trusted_for"]) == (
                "legacy_sql",
                "L2",
                ["phone"],
            )
            audit = (await api.get("/audit", params={"event": "admin.provider.*"})).json()
        assert SECRET not in str(audit)
        assert "url" in audit["items"][0]["details"]["settings"]  # which settings, not values
        stale = await http.post(
            "/admin/providers/social/delete", data={"csrf_token": csrf, "version": '"hx"'}
        )
        assert stale.status_code == 412
        version = unescape(hidden(page.text, "version"))
        removed = await http.post(
            "/admin/providers/social/delete", data={"csrf_token": csrf, "version": version}
        )
        assert removed.status_code == 303
        assert "登录方式已删除。" in (await http.get(removed.headers["location"])).text
        assert (await http.get("/admin/providers/social")).status_code == 404
    finally:
        await http.aclose()


async def test_a_bad_setting_is_named_and_nothing_is_stored(
    console: Console, tmp_path: Path
) -> None:
    http, _ = await console_sign_in(console, "root")
    try:
        csrf = await csrf_of(http, "/admin/providers/new?type=legacy_sql")
        form = legacy_form(tmp_path, csrf, "social")
        bad_json = await http.post("/admin/providers", data={**form, "cfg_columns": "{nope"})
        assert bad_json.status_code == 422 and "columns" in bad_json.text
        bad_scheme = await http.post("/admin/providers", data={**form, "cfg_scheme": "rot13"})
        assert bad_scheme.status_code == 422 and "scheme" in bad_scheme.text
        no_kind = await http.get("/admin/providers/new?type=kerberos")
        assert no_kind.status_code == 422
        listed = await http.get("/admin/providers")
        assert "social" not in listed.text
    finally:
        await http.aclose()


async def test_login_systems_are_city_wide(console: Console, tmp_path: Path) -> None:
    http, landed = await console_sign_in(console, "east-admin")
    try:
        assert 'href="/admin/providers"' not in landed.text
        assert (await http.get("/admin/providers")).status_code == 403
        assert (await http.get("/admin/providers/new?type=ldap")).status_code == 403
        csrf = hidden(landed.text, "csrf_token")
        added = await http.post("/admin/providers", data=legacy_form(tmp_path, csrf, "mine"))
        assert added.status_code == 403
    finally:
        await http.aclose()


async def test_a_saml_department_added_from_the_console(console: Console, tmp_path: Path) -> None:
    from gateway.saml.idp import available
    from tests.gateway.saml.identity_provider import SMARTCARD_CLASS, IdentityProvider
    from tests.support import required

    required(available(), "pysaml2 and xmlsec1 (pip install '.[saml]')")
    idp = IdentityProvider(tmp_path / "idp")
    metadata = tmp_path / "hrss-idp.xml"
    metadata.write_text(idp.metadata(), encoding="utf-8")
    idp.close()
    http, _ = await console_sign_in(console, "root")
    try:
        form_page = await http.get("/admin/providers/new?type=saml")
        assert form_page.status_code == 200 and "SAML 2.0 身份提供方" in form_page.text
        added = await http.post(
            "/admin/providers",
            data={
                "csrf_token": hidden(form_page.text, "csrf_token"),
                "type": "saml",
                "id": "hrss",
                "cfg_name": "市人社局",
                "cfg_metadata_file": str(metadata),
                "cfg_assurance": "L3",
                "cfg_levels": f'{{"{SMARTCARD_CLASS}": "L3"}}',
                "cfg_sign_requests": "on",
            },
        )
        assert added.status_code == 303, added.text
        ours = await http.get("/saml/sp/hrss/metadata")
    finally:
        await http.aclose()
    assert ours.status_code == 200
    assert 'entityID="' in ours.text and "/saml/sp/hrss/metadata" in ours.text
    async with console.world.http(console.world.city_token) as api:
        found = (await api.get("/providers/hrss")).json()
    assert (found["type"], found["assurance"]) == ("saml", "L3")
