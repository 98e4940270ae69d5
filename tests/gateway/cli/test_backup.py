"""``backup`` and ``restore``: back up a running gateway, wipe it, restore, and the same people
sign in, the same apps authenticate, tokens signed before verify and offline refresh tokens
refresh (SQLite and PostgreSQL, and across the two); and every way a restore can be wrong
leaves nothing behind."""

from __future__ import annotations

import asyncio
import io
import shutil
import sqlite3
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from jose import jws
from jose import jwt as jose_jwt

from gateway.identity.clients import Registered
from gateway.server.settings import Settings
from keys import archive
from keys.master import create_master_key_file
from store.database import Database
from store.snapshot import dump, snapshot
from tests.conftest import running_gateway
from tests.gateway.browser import Browser
from tests.gateway.cli.test_cli import in_process, ok_json, refused
from tests.gateway.helpers import fetch_jwks, second_instance

PASSPHRASE = "a long backup passphrase"
KEY_PASSPHRASE = "the master key's own passphrase"
SECRETS = {
    "YIHAOTONG_BACKUP_PASSPHRASE": PASSPHRASE,
    "YIHAOTONG_MASTER_KEY_PASSPHRASE": KEY_PASSPHRASE,
}
PASSWORD = "correct horse battery"
CALLBACK = "https://fund.example.gov.cn/cb"


@pytest.fixture(autouse=True)
def cheap_scrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    """A cheap scrypt for the archives written here (each archive's header names its cost)."""
    monkeypatch.setitem(archive.SCRYPT, "n", 2**10)


def cli_for(data_dir: Path, database_url: str | None = None):
    return in_process(
        data_dir, **({"YIHAOTONG_DATABASE_URL": database_url} if database_url else {})
    )


def cli_of(settings: Settings):
    return cli_for(settings.data_dir, settings.database_url)


async def tokens_for(live, app: Registered, scope: str) -> dict:
    """Signed in through the code flow by a fresh browser; the token response."""
    params = {
        "response_type": "code",
        "client_id": app.client.client_id,
        "redirect_uri": CALLBACK,
        "scope": scope,
        "prompt": "consent",
        "state": "s",
        "nonce": "n",
    }
    browser = Browser(live.url)
    try:
        arrival = await browser.go(
            f"{live.url}/oauth/authorize?{urlencode(params)}", username="zhang", password=PASSWORD
        )
    finally:
        await browser.close()
    assert arrival.status_code in (302, 303), arrival.text
    code = httpx.URL(arrival.headers["location"]).params["code"]
    async with httpx.AsyncClient(base_url=live.url, timeout=30) as http:
        response = await http.post(
            "/oauth/token",
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK},
            auth=(app.client.client_id, app.client_secret or ""),
        )
    assert response.status_code == 200, response.text
    return response.json()


async def refresh(live, app: Registered, token: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=live.url, timeout=30) as http:
        return await http.post(
            "/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": token},
            auth=(app.client.client_id, app.client_secret or ""),
        )


async def a_person_and_an_app(live) -> Registered:
    async with second_instance(live.settings) as admin:
        await admin.accounts.create_local(username="zhang", password=PASSWORD, name="张伟")
        return await admin.clients.register(
            name="公积金服务",
            redirect_uris=[CALLBACK],
            grant_types=["authorization_code", "refresh_token"],
            scopes=["openid", "profile", "offline_access"],
        )


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["embedded", "services"])
def test_back_up_wipe_restore_and_the_same_people_apps_keys_and_tokens_work(
    settings_for, tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    archive_path = tmp_path / "city.yhb"
    # Embedded: the key travels in the archive. Services: the operator keeps it apart.
    carry_key = backend == "embedded"
    with running_gateway(settings_for, backend) as live:
        app = asyncio.run(a_person_and_an_app(live))
        offline = asyncio.run(tokens_for(live, app, "openid profile offline_access"))
        online = asyncio.run(tokens_for(live, app, "openid profile"))
        kids_before = {key["kid"] for key in asyncio.run(fetch_jwks(live.url))["keys"]}
        flags = ["--include-master-key"] if carry_key else []
        made = ok_json(
            cli_of(live.settings)("backup", str(archive_path), *flags, "--json", **SECRETS)
        )  # while the gateway serves
        data_dir, source_url = live.settings.data_dir, live.settings.database_url
    assert made["master_key_included"] is carry_key
    assert made["tables"]["accounts"] == 1 and made["tables"]["refresh_tokens"] >= 2
    assert archive_path.stat().st_mode & 0o777 == 0o600
    assert b"zhang" not in archive_path.read_bytes()

    kept_key = (data_dir / "master.key").read_bytes()
    shutil.rmtree(data_dir)  # the data directory is gone, and with it the key
    target_url = request.getfixturevalue("postgres_url") if backend == "services" else None
    assert backend == "embedded" or target_url != source_url
    if not carry_key:
        data_dir.mkdir()
        (data_dir / "master.key").write_bytes(kept_key)
        (data_dir / "master.key").chmod(0o600)
    restored = ok_json(
        cli_for(data_dir, target_url)("restore", str(archive_path), "--json", **SECRETS)
    )
    assert restored["master_key_restored"] is carry_key
    assert restored["tables"] == made["tables"]
    assert (data_dir / "master.key").read_bytes() == kept_key
    assert (data_dir / "master.key").stat().st_mode & 0o777 == 0o600

    overrides = {"data_dir": data_dir} | ({"database_url": target_url} if target_url else {})
    with running_gateway(settings_for, backend, **overrides) as again:
        jwks = asyncio.run(fetch_jwks(again.url))
        assert {key["kid"] for key in jwks["keys"]} == kids_before
        for token in (offline["id_token"], offline["access_token"]):
            jws.verify(token, jwks, algorithms=["RS256"])  # signed before, verified after
        refreshed = asyncio.run(refresh(again, app, offline["refresh_token"]))
        assert refreshed.status_code == 200, refreshed.text
        jws.verify(refreshed.json()["access_token"], jwks, algorithms=["RS256"])
        # A refresh token without offline_access lived with its SSO session, which is lost.
        ended = asyncio.run(refresh(again, app, online["refresh_token"]))
        assert ended.status_code == 400 and ended.json()["error"] == "invalid_grant"
        # The same person signs in with the same password, and the app sees the same subject.
        fresh = asyncio.run(tokens_for(again, app, "openid"))
    subject = jose_jwt.get_unverified_claims(offline["id_token"])["sub"]
    assert jose_jwt.get_unverified_claims(fresh["id_token"])["sub"] == subject


async def rows_of(url: str) -> dict[str, list]:
    database = Database(url)
    try:
        found: dict[str, list] = {}
        table = ""
        async with snapshot(database) as connection:
            async for record in dump(connection):
                if isinstance(record, dict):
                    table = record["table"]
                    found[table] = []
                else:
                    found[table].append(record)
        return found
    finally:
        await database.close()


@pytest.mark.slow
def test_an_archive_crosses_from_sqlite_to_postgresql_and_back_unchanged(
    settings_for, tmp_path: Path, postgres_url: str
) -> None:
    source = settings_for("embedded")
    cli = cli_of(source)
    ok_json(
        cli("users", "create", "--username", "li", "--name", "李娜", "--phone", "13800138000",
            "--password-stdin", "--json", stdin=PASSWORD)
    )  # fmt: skip
    # The child's id sorts before its parent's: the restore writes parents first all the same.
    ok_json(cli("departments", "add", "zone", "--name", "市", "--json"))
    ok_json(cli("departments", "add", "area", "--name", "东区", "--parent", "zone", "--json"))
    ok_json(cli("clients", "create", "--name", "办事", "--redirect-uri", CALLBACK, "--json"))
    first, second = tmp_path / "one.yhb", tmp_path / "two.yhb"
    ok_json(cli("backup", str(first), "--include-master-key", "--json", **SECRETS))

    on_postgres = cli_for(tmp_path / "pg", postgres_url)
    ok_json(on_postgres("restore", str(first), "--json", **SECRETS))
    ok_json(on_postgres("backup", str(second), "--include-master-key", "--json", **SECRETS))
    back = cli_for(tmp_path / "back")
    ok_json(back("restore", str(second), "--json", **SECRETS))

    before = asyncio.run(rows_of(source.resolved_database_url))
    after = asyncio.run(rows_of(f"sqlite+aiosqlite:///{tmp_path / 'back' / 'yihaotong.db'}"))
    audit_before, audit_after = before.pop("audit_events"), after.pop("audit_events")
    assert after == before
    # The audit log kept every entry the archive held (the source's own backup entry came
    # after its snapshot), and each restore added one, numbered on from the last restored.
    assert audit_before[-1][2] == "backup.created"
    held = len(audit_before) - 1
    assert audit_after[:held] == audit_before[:held]
    added = audit_after[held:]
    assert [row[2] for row in added] == ["backup.restored", "backup.restored"]
    assert [row[0] for row in added] == [held + 1, held + 2]
    assert len(before["departments"]) == 2 and len(before["accounts"]) == 1


# -- every way a restore can be wrong leaves nothing behind ------------------------------------


@pytest.fixture
def source(settings_for, tmp_path: Path) -> tuple[Settings, Path]:
    """A small installation and its archive (carrying the master key)."""
    settings = settings_for("embedded")
    cli = cli_of(settings)
    ok_json(
        cli("users", "create", "--username", "li", "--password-stdin", "--json", stdin=PASSWORD)
    )
    path = tmp_path / "small.yhb"
    key_only = {"YIHAOTONG_MASTER_KEY_PASSPHRASE": KEY_PASSPHRASE}
    # The passphrase on standard input here; the restores take it from the variable.
    ok_json(
        cli("backup", str(path), "--include-master-key", "--passphrase-file", "-", "--json",
            stdin=PASSPHRASE + "\n", **key_only)
    )  # fmt: skip
    return settings, path


def rows_in(data_dir: Path, table: str) -> int | None:
    path = data_dir / "yihaotong.db"
    if not path.exists():
        return None
    with sqlite3.connect(path) as connection:
        if not connection.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
        ).fetchone():
            return None
        return connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608


def test_a_wrong_passphrase_restores_nothing(source, tmp_path: Path) -> None:
    _, path = source
    target = tmp_path / "target"
    ran = cli_for(target)(
        "restore", str(path), YIHAOTONG_BACKUP_PASSPHRASE="not the passphrase at all"
    )
    refused(ran, "passphrase", "nothing was restored")
    assert ran.returncode == 3
    assert not target.exists()


def test_an_altered_archive_restores_nothing_and_leaves_no_key(
    settings_for, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(archive, "CHUNK", 512)  # the key and first tables come before the change
    settings = settings_for("embedded")
    saml_key = settings.data_dir / "saml" / "idp-key.pem"
    saml_key.parent.mkdir()
    saml_key.write_bytes(b"-----BEGIN PRIVATE KEY-----\n...\n")
    path = tmp_path / "many.yhb"
    ok_json(cli_of(settings)("backup", str(path), "--include-master-key", "--json", **SECRETS))
    data = path.read_bytes()
    altered = tmp_path / "altered.yhb"
    changed = bytearray(data)
    changed[-40] ^= 0x20
    altered.write_bytes(bytes(changed))
    target = tmp_path / "target"
    cli = cli_for(target)

    ran = cli("restore", str(altered), **SECRETS)
    refused(ran, "altered", "nothing was restored")
    assert ran.returncode == 3
    assert not (target / "master.key").exists(), "the key written before the tables is removed"
    assert not (target / "saml" / "idp-key.pem").exists()
    assert rows_in(target, "accounts") == 0 and rows_in(target, "signing_keys") == 0

    cut = tmp_path / "cut.yhb"
    cut.write_bytes(data[:-600])
    refused(cli("restore", str(cut), **SECRETS), "nothing was restored")
    assert rows_in(target, "signing_keys") == 0
    # The target is still an empty installation: the intact archive restores into it.
    assert ok_json(cli("restore", str(path), "--json", **SECRETS))["files"] == ["saml/idp-key.pem"]
    assert rows_in(target, "signing_keys") == 2
    assert (target / "saml" / "idp-key.pem").read_bytes() == saml_key.read_bytes()


def test_an_installation_that_is_not_empty_is_refused(source, settings_for, tmp_path) -> None:
    settings, path = source
    before = rows_in(settings.data_dir, "accounts")
    ran = cli_of(settings)("restore", str(path), **SECRETS)
    refused(ran, "not empty", "nothing was restored")
    assert ran.returncode == 4
    assert rows_in(settings.data_dir, "accounts") == before == 1


def test_another_master_key_is_refused(source, tmp_path: Path) -> None:
    _, path = source
    target = tmp_path / "target"
    create_master_key_file(target / "master.key")
    key = (target / "master.key").read_bytes()
    ran = cli_for(target)("restore", str(path), **SECRETS)
    refused(ran, "is not the archive's", "nothing was restored")
    assert ran.returncode == 4
    assert (target / "master.key").read_bytes() == key
    assert rows_in(target, "accounts") is None


def test_the_key_needs_its_own_passphrase_or_the_file(source, tmp_path: Path) -> None:
    settings, path = source
    target = tmp_path / "target"
    wrong = SECRETS | {"YIHAOTONG_MASTER_KEY_PASSPHRASE": PASSPHRASE}
    ran = cli_for(target)("restore", str(path), **wrong)
    refused(ran, "master key passphrase", "nothing was restored")
    assert ran.returncode == 3
    assert not (target / "master.key").exists()
    assert rows_in(target, "accounts") == 0

    keyless = tmp_path / "keyless.yhb"
    ok_json(cli_of(settings)("backup", str(keyless), "--json", **SECRETS))
    elsewhere = tmp_path / "elsewhere"
    ran = cli_for(elsewhere)("restore", str(keyless), **SECRETS)
    refused(ran, "no master key", "--include-master-key")
    assert ran.returncode == 4


def test_an_archive_of_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.yhb"
    out = io.BytesIO()
    header = {"schema_revision": "9999_future", "master_key": {"fingerprint": "sha256:00"}}
    sealer = archive.Sealer(out, PASSPHRASE, header)
    sealer.close()
    path.write_bytes(out.getvalue())
    ran = cli_for(tmp_path / "target")("restore", str(path), **SECRETS)
    refused(ran, "newer than this version")
    assert ran.returncode == 4


def test_backup_refuses_to_overwrite_or_to_take_a_weak_or_missing_passphrase(source) -> None:
    settings, path = source
    cli = cli_of(settings)
    written = path.read_bytes()
    ran = cli("backup", str(path), **SECRETS)
    refused(ran, "exists already")
    assert ran.returncode == 4 and path.read_bytes() == written
    other = str(path.with_name("other.yhb"))
    refused(cli("backup", other, YIHAOTONG_BACKUP_PASSPHRASE="short"), "at least 12")
    refused(cli("backup", other), "YIHAOTONG_BACKUP_PASSPHRASE", "never as an argument")
    same = SECRETS | {"YIHAOTONG_MASTER_KEY_PASSPHRASE": PASSPHRASE}
    refused(cli("backup", other, "--include-master-key", **same), "must differ")
    assert not Path(other).exists()


def test_backup_of_an_installation_that_is_not_there_says_so(tmp_path: Path) -> None:
    empty = tmp_path / "nothing"
    ran = cli_for(empty)("backup", str(tmp_path / "x.yhb"), **SECRETS)
    refused(ran, "master key")
    assert not (tmp_path / "x.yhb").exists() and not empty.exists()
