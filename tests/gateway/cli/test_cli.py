"""The ``yihaotong`` command: the contract in DESIGN.md. Most tests call the Typer app in this
process; a few run the installed command as a process (the entry point, exit codes, ``serve``)."""

from __future__ import annotations

import asyncio
import getpass
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from gateway.cli import app
from gateway.identity.console_client import CONSOLE_CLIENT_ID
from tests.conftest import CHEAP_HASHING, running_gateway
from tests.gateway.admin.conftest import API, PASSWORD, build_world

YIHAOTONG = shutil.which("yihaotong", path=str(Path(sys.executable).parent)) or "yihaotong"


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


def environment(data_dir: Path, **extra: str) -> dict[str, str | None]:
    """The command's environment: this data directory, and no other YIHAOTONG_ setting but the
    tests' cheap password hashing."""
    unset: dict[str, str | None] = {k: None for k in os.environ if k.startswith("YIHAOTONG_")}
    ours = {"YIHAOTONG_DATA_DIR": str(data_dir), "YIHAOTONG_LOG_LEVEL": "WARNING"}
    return unset | CHEAP_HASHING | ours | extra


def in_process(data_dir: Path, **settings: str):
    runner = CliRunner()

    def run(*args: str, stdin: str | None = None, **extra_env: str) -> Ran:
        result = runner.invoke(
            app,
            list(args),
            input=stdin,
            env=environment(data_dir, **settings, **extra_env),
            catch_exceptions=False,
        )
        return Ran(result.exit_code, result.stdout, result.stderr)

    return run


@pytest.fixture
def cli(tmp_path: Path):
    """The command, called in this process."""
    return in_process(tmp_path / "var")


@pytest.fixture
def process(tmp_path: Path):
    """The installed ``yihaotong`` command, run as a process."""
    env = {k: v for k, v in environment(tmp_path / "var").items() if v is not None}
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("YIHAOTONG_")}

    def run(*args: str, stdin: str | None = None, **extra_env: str) -> Ran:
        done = subprocess.run(
            [YIHAOTONG, *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=inherited | env | extra_env,
            timeout=60,
        )
        return Ran(done.returncode, done.stdout, done.stderr)

    return run


def ok_json(result: Ran) -> dict:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def refused(result: Ran, *words: str) -> None:
    assert result.returncode != 0
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")
    for word in words:
        assert word in result.stderr
    assert "Traceback" not in result.stderr


def test_init_creates_data_dir_and_a_private_master_key(process, cli) -> None:
    document = ok_json(process("init", "--json"))
    master = Path(document["master_key_file"])
    assert document["master_key_created"] is True
    assert master.stat().st_mode & 0o777 == 0o600
    again = ok_json(cli("init", "--json"))
    assert again["master_key_created"] is False
    keys = ok_json(cli("keys", "list", "--json"))["keys"]
    assert sorted(k["state"] for k in keys) == ["active", "next"]
    assert all(k["alg"] == "RS256" and k["published"] for k in keys)


def test_users_create(tmp_path: Path, database_url: str) -> None:
    cli = in_process(tmp_path / "var", YIHAOTONG_DATABASE_URL=database_url)
    account = ok_json(
        cli(
            "users", "create", "--username", "Alice", "--name", "张三",
            "--phone", "138 0013 8000", "--email", "Alice@Example.gov.cn",
            "--password-stdin", "--json",
            stdin="correct horse battery staple\n",
        )
    )  # fmt: skip
    assert account["username"] == "alice"
    assert account["name"] == "张三"
    assert account["phone"] == "13800138000"
    assert account["email"] == "alice@example.gov.cn"
    assert len(account["id"]) == 36
    assert "password" not in json.dumps(account)
    refused(
        cli("users", "create", "--username", "ALICE", "--password-stdin", stdin="another pass 1"),
        "taken",
    )


@pytest.mark.parametrize(
    ("args", "stdin", "words"),
    [
        (["--username", "bob"], None, ["--password-stdin"]),
        (["--username", "bob", "--password-stdin"], "short\n", ["password"]),
        (["--username", "bob", "--password-stdin"], "bob\n", ["password"]),
        (["--username", "-x-", "--password-stdin"], "long enough pw\n", ["username"]),
        (
            ["--username", "bob", "--phone", "12345", "--password-stdin"],
            "long enough pw",
            ["phone"],
        ),
        (
            ["--username", "bob", "--email", "not-mail", "--password-stdin"],
            "long enough pw",
            ["e-mail"],
        ),
    ],
)
def test_users_create_refuses_bad_input(cli, args, stdin, words) -> None:
    refused(cli("users", "create", *args, stdin=stdin), *words)


def test_clients_create_confidential(cli) -> None:
    client = ok_json(
        cli(
            "clients", "create", "--name", "市民服务",
            "--redirect-uri", "https://app.example.gov.cn/cb",
            "--redirect-uri", "http://127.0.0.1:8080/cb",
            "--post-logout-redirect-uri", "https://app.example.gov.cn/bye",
            "--backchannel-logout-uri", "https://app.example.gov.cn/bcl",
            "--require-consent", "--json",
        )
    )  # fmt: skip
    assert set(client) >= {"client_id", "client_secret", "redirect_uris", "grant_types"}
    assert len(client["client_secret"]) >= 43  # 256 bits, base64url
    assert client["redirect_uris"] == ["https://app.example.gov.cn/cb", "http://127.0.0.1:8080/cb"]
    assert client["post_logout_redirect_uris"] == ["https://app.example.gov.cn/bye"]
    assert client["backchannel_logout_uri"] == "https://app.example.gov.cn/bcl"
    assert client["grant_types"] == ["authorization_code", "refresh_token"]
    assert client["token_endpoint_auth_method"] == "client_secret_basic"
    assert client["require_consent"] is True
    assert client["public"] is False
    assert client["subject_type"] == "pairwise", "pairwise unless a city-wide decision says not"
    assert client["access_token_format"] == "jwt" and client["resource_server"] is False
    listed = ok_json(cli("clients", "list", "--json"))["clients"]
    # init made the admin console's own app too
    assert {c["client_id"] for c in listed} == {client["client_id"], CONSOLE_CLIENT_ID}
    assert all("client_secret" not in c for c in listed)


def test_clients_create_public_and_pinned(cli) -> None:
    public = ok_json(
        cli(
            "clients", "create", "--name", "移动办公", "--public",
            "--redirect-uri", "cn.gov.city.office:/oauth2redirect", "--dpop-bound-access-tokens",
            "--require-pushed-authorization-requests", "--json",
        )
    )  # fmt: skip
    assert public["client_secret"] is None
    assert public["dpop_bound_access_tokens"] is True
    assert public["require_pushed_authorization_requests"] is True
    assert public["token_endpoint_auth_method"] == "none"
    pinned = ok_json(
        cli(
            "clients", "create", "--name", "后台服务", "--grant-type", "client_credentials",
            "--token-endpoint-auth-method", "client_secret_post", "--scope", "a.read",
            "--scope", "a.write", "--access-token-format", "opaque", "--resource-server",
            "--json",
        )
    )  # fmt: skip
    assert pinned["access_token_format"] == "opaque" and pinned["resource_server"] is True
    assert pinned["token_endpoint_auth_method"] == "client_secret_post"
    assert pinned["grant_types"] == ["client_credentials"]
    assert pinned["scopes"] == ["a.read", "a.write"]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--redirect-uri", "http://app.example.gov.cn/cb"], ["loopback"]),
        (["--redirect-uri", "https://app.example.gov.cn/cb#frag"], ["fragment"]),
        (["--redirect-uri", "https://*.example.gov.cn/cb"], ["wildcard"]),
        (["--redirect-uri", "javascript:alert(1)"], ["scheme"]),
        (["--redirect-uri", "/relative/cb"], ["absolute"]),
        (["--redirect-uri", "cn.gov.app:/cb"], ["scheme"]),  # private-use needs --public
        (["--public", "--redirect-uri", "http://localhost:8080/cb"], ["127.0.0.1", "8252"]),
        (["--public", "--redirect-uri", "cn.gov.app://cb"], ["authority"]),
        ([], ["redirect URI"]),
        (["--grant-type", "password"], ["grant_types", "client_credentials"]),
        (["--public", "--grant-type", "client_credentials"], ["public"]),
        (
            [
                "--redirect-uri",
                "https://a.example/cb",
                "--backchannel-logout-uri",
                "http://a.example/b",
            ],
            ["loopback"],
        ),
        (
            [
                "--redirect-uri",
                "https://a.example/cb",
                "--token-endpoint-auth-method",
                "private_key_jwt",
            ],
            ["client_secret_basic"],
        ),
        (["--grant-type", "client_credentials", "--scope", 'bad"scope'], ["scope"]),
        (["--grant-type", "client_credentials", "--access-token-format", "jwe"], ["jwt"]),
        (["--public", "--redirect-uri", "cn.gov.app:/cb", "--resource-server"], ["confidential"]),
    ],
)
def test_clients_create_refuses_bad_input(cli, args, words) -> None:
    refused(cli("clients", "create", "--name", "x", *args), *words)


def test_keys_rotate_waits_for_caches_unless_forced(cli) -> None:
    ok_json(cli("init", "--json"))
    before = ok_json(cli("keys", "list", "--json"))["keys"]
    announced = next(k["kid"] for k in before if k["state"] == "next")
    refused(cli("keys", "rotate"), "published for")
    rotated = ok_json(cli("keys", "rotate", "--force", "--json"))
    assert rotated["rotated"] is True
    assert rotated["active_kid"] == announced
    after = {k["kid"]: k for k in ok_json(cli("keys", "list", "--json"))["keys"]}
    retired = [k for k in after.values() if k["state"] == "retired"]
    assert len(retired) == 1 and retired[0]["published"] and retired[0]["publish_until"]
    assert after[announced]["state"] == "active"


def test_keys_rotate_waits_its_turn_with_zero_cache_age(cli) -> None:
    ok_json(cli("init", "--json", YIHAOTONG_JWKS_MAX_AGE="0"))
    assert ok_json(cli("keys", "rotate", "--json", YIHAOTONG_JWKS_MAX_AGE="0"))["rotated"]
    refused(cli("keys", "rotate", "--alg", "ES256"), "ES256")


def test_bad_configuration_is_reported_not_thrown(process) -> None:
    result = process("init", YIHAOTONG_ISSUER="ftp://nope", YIHAOTONG_SIGNING_ALGS="HS256")
    assert result.returncode == 2
    assert "YIHAOTONG_ISSUER" in result.stderr and "YIHAOTONG_SIGNING_ALGS" in result.stderr
    assert "Traceback" not in result.stderr


def test_wrong_master_key_is_a_clear_error(cli, tmp_path: Path) -> None:
    ok_json(cli("init", "--json"))
    (tmp_path / "var" / "master.key").write_text("A" * 43 + "=\n")
    refused(cli("keys", "list"), "master key")


def test_read_only_commands_create_nothing(cli, tmp_path: Path) -> None:
    refused(cli("keys", "list"), "yihaotong init")
    refused(cli("clients", "list"), "yihaotong init")
    assert not (tmp_path / "var" / "master.key").exists()
    ok_json(cli("init", "--json"))
    listed = ok_json(cli("keys", "list", "--json", YIHAOTONG_SIGNING_ALGS="RS256,ES256"))
    assert {k["alg"] for k in listed["keys"]} == {"RS256"}  # listing added no ES256 keys


def test_a_lost_master_key_is_never_silently_replaced(cli, process, tmp_path: Path) -> None:
    ok_json(cli("init", "--json"))
    master = tmp_path / "var" / "master.key"
    master.unlink()
    refused(cli("init"), "master key", "restore")
    assert not master.exists()
    served = process("serve", "--port", "1")  # logs its warnings first, then the error
    assert served.returncode == 1
    assert "restore" in served.stderr and "Traceback" not in served.stderr


def test_bad_log_level_is_a_configuration_error(cli) -> None:
    result = cli("init", YIHAOTONG_LOG_LEVEL="verbose")
    assert result.returncode == 2 and "YIHAOTONG_LOG_LEVEL" in result.stderr


@pytest.mark.slow
def test_organisation_commands_round_trip_and_are_audited(cli, tmp_path: Path) -> None:
    from gateway.server.settings import Settings
    from store import audit
    from store.database import Database

    ok_json(cli("departments", "add", "city", "--name", "市", "--json"))
    ok_json(cli("departments", "add", "east", "--name", "东区", "--parent", "city", "--json"))
    ok_json(cli("departments", "add", "west", "--name", "西区", "--parent", "city", "--json"))
    moved = ok_json(cli("departments", "move", "east", "--parent", "west", "--json"))
    assert moved["path"] == "/city/west/east" and moved["version"] == 2
    listed = ok_json(cli("departments", "list", "--under", "/city/west", "--json"))
    assert [d["id"] for d in listed["departments"]] == ["west", "east"]
    refused(cli("departments", "remove", "city"), "departments below it")
    refused(cli("departments", "add", "Bad Id", "--name", "x"), "id: String should match")

    account = ok_json(
        cli(
            "users", "create", "--username", "root", "--password-stdin", "--json", stdin="pw-1-long"
        )
    )
    granted = ok_json(cli("admin", "grant", "root", "--json"))["assignments"]
    assert {a["department_id"] for a in granted} == {None} and len(granted) == 2
    again = ok_json(cli("admin", "grant", account["id"], "--json"))["assignments"]
    assert {a["id"] for a in again} == {a["id"] for a in granted}  # held already: kept
    east_only = ok_json(
        cli("admin", "grant", "root", "--scope", "admin:read", "--department", "east", "--json")
    )
    assert [a["department_id"] for a in east_only["assignments"]] == ["east"]
    refused(cli("admin", "grant", "root", "--scope", "admin:everything"), "admin:read")

    client = ok_json(
        cli(
            "clients", "create", "--name", "App", "--redirect-uri", "https://a.example/cb", "--json"
        )
    )["client_id"]
    ok_json(cli("roles", "add", "auditor", "--description", "reads", "--json"))
    clerk = ok_json(cli("roles", "add", "clerk", "--client", client, "--json"))
    assert clerk["client_id"] == client
    app_roles = ok_json(cli("roles", "list", "--client", client, "--json"))["roles"]
    assert [r["name"] for r in app_roles] == ["clerk"]
    held = ok_json(
        cli(
            "assign",
            "root",
            "clerk",
            "--client",
            client,
            "--department",
            "east",
            "--expires",
            "2099-01-01T00:00:00+08:00",
            "--json",
        )
    )
    assert held["department_id"] == "east" and held["expires_at"] == "2098-12-31T16:00:00Z"
    refused(cli("assign", "root", "clerk", "--client", client, "--department", "east"), "already")
    refused(cli("assign", "root", "clerk", "--expires", "tomorrow"), "--expires")
    refused(cli("assign", "nobody", "auditor"), "no account")
    assert (
        cli("unassign", "root", "clerk", "--client", client, "--department", "east").returncode == 0
    )
    refused(cli("unassign", "root", "clerk", "--client", client, "--department", "east"), "hold")
    assert cli("roles", "remove", "auditor").returncode == 0
    refused(cli("roles", "remove", "auditor"), "no global role")
    refused(cli("providers", "remove", "nothing"), "No such provider")

    shown = json.loads(cli("policies", "show", client).stdout)
    assert shown["version"] == 0 and shown["document"]["min_acr"] == "L1"
    policy_file = tmp_path / "policy.json"
    policy_file.write_text(json.dumps({"min_acr": "L2", "departments": ["east"]}))
    assert ok_json(cli("policies", "set", client, str(policy_file), "--json"))["version"] == 1
    stdin = cli("policies", "set", client, "--json", stdin='{"roles": ["clerk"]}')
    assert ok_json(stdin)["version"] == 2
    shown = json.loads(cli("policies", "show", client).stdout)
    assert shown["document"]["roles"] == ["clerk"] and shown["document"]["min_acr"] == "L1"
    refused(cli("policies", "set", client, stdin='{"colour": "red"}'), "colour")
    refused(cli("policies", "set", "no-such-client", stdin="{}"), "client")

    async def entries() -> list:
        database = Database(Settings(data_dir=tmp_path / "var").resolved_database_url)
        try:
            async with database.sessions() as session:
                return await audit.query(session, event="admin.", limit=200)
        finally:
            await database.close()

    events = asyncio.run(entries())
    assert {e.actor for e in events} == {getpass.getuser()}
    assert {e.details["via"] for e in events} == {"cli"}
    names = [e.event for e in events]
    for name in (
        "admin.department.created",
        "admin.department.moved",
        "admin.role.created",
        "admin.assignment.created",
        "admin.assignment.deleted",
        "admin.role.deleted",
        "admin.policy.updated",
    ):
        assert name in names
    moved_event = next(e for e in events if e.event == "admin.department.moved")
    assert moved_event.details["before"]["path"] == "/city/east"
    assert moved_event.details["after"]["path"] == "/city/west/east"


@pytest.mark.slow
def test_every_write_is_audited_as_the_operator_and_prints_the_api_document(
    settings_for, tmp_path: Path
) -> None:
    """Each write of the command, next to the same write through the admin API on a live
    gateway sharing its data: the same document, and an audit entry naming the
    operating-system user, ``via`` cli."""
    with running_gateway(settings_for) as live:
        world = asyncio.run(build_world(live))
        run = in_process(live.settings.data_dir, YIHAOTONG_ISSUER=live.url)
        bearer = {"Authorization": f"Bearer {world.city_token}"}
        with httpx.Client(base_url=live.url + API, headers=bearer, timeout=30) as api:

            def answer(response: httpx.Response, status: int = 200) -> dict:
                assert response.status_code == status, response.text
                return response.json()

            def same(printed: dict, answered: dict) -> None:
                assert list(printed) == list(answered)

            client = ok_json(
                run(
                    "clients", "create", "--name", "命令行应用", "--department", "east",
                    "--redirect-uri", "https://cli.example/cb", "--scope", "cli.read", "--json",
                )
            )  # fmt: skip
            api_client = {"client_name": "接口应用", "redirect_uris": ["https://api.example/cb"]}
            same(client, answer(api.post("/clients", json=api_client), 201))
            assert client["client_secret"] and client["scopes"] == ["cli.read"]
            client_id = client["client_id"]

            account = ok_json(
                run(
                    "users", "create", "--username", "clerk", "--department", "east",
                    "--password-stdin", "--json", stdin=PASSWORD,
                )
            )  # fmt: skip
            same(account, answer(api.get(f"/accounts/{account['id']}")))
            assert account["department_id"] == "east"

            added = ok_json(run("departments", "add", "north", "--name", "北区", "--json"))
            api_department = {"id": "south", "name": "南区", "parent_id": "city"}
            same(added, answer(api.post("/departments", json=api_department), 201))
            moved = ok_json(run("departments", "move", "north", "--parent", "city", "--json"))
            same(moved, answer(api.patch("/departments/south", json={"parent_id": "west"})))
            assert moved["path"] == "/city/north"

            role = ok_json(run("roles", "add", "clerk", "--client", client_id, "--json"))
            api_role = {"name": "reviewer", "client_id": client_id}
            same(role, answer(api.post("/roles", json=api_role), 201))
            held = ok_json(
                run("assign", "clerk", "clerk", "--client", client_id, "--department", "east",
                    "--json")
            )  # fmt: skip
            api_assignment = {"account_id": world.east_person, "role_id": role["id"]}
            same(held, answer(api.post("/assignments", json=api_assignment), 201))
            assert run("unassign", "clerk", "clerk", "--client", client_id,
                       "--department", "east").returncode == 0  # fmt: skip
            assert run("roles", "remove", "reviewer", "--client", client_id).returncode == 0

            policy = ok_json(run("policies", "set", client_id, "--json", stdin='{"min_acr": "L2"}'))
            same(policy, answer(api.put(f"/clients/{client_id}/policy", json={"min_acr": "L2"})))
            shown = json.loads(run("policies", "show", client_id).stdout)
            same(shown, answer(api.get(f"/clients/{client_id}/policy")))

            granted = ok_json(
                run("admin", "grant", "clerk", "--scope", "admin:read", "--department", "east",
                    "--json")
            )["assignments"]  # fmt: skip
            listed = answer(api.get("/assignments", params={"account_id": account["id"]}))
            same(granted[0], listed["items"][0])

            members = sqlite3.connect(tmp_path / "members.db")  # a legacy table must exist
            members.execute("CREATE TABLE members (id TEXT, login TEXT, pwd TEXT)")
            members.close()
            config = {
                "name": "市社保局",
                "url": f"sqlite:///{tmp_path / 'members.db'}",
                "table": "members",
                "scheme": "md5",
                "columns": {"subject": "id", "username": "login", "password": "pwd"},
            }
            (tmp_path / "social.json").write_text(json.dumps(config), encoding="utf-8")
            provider = ok_json(
                run("providers", "add", "--id", "social", "--type", "legacy_sql",
                    "--config", str(tmp_path / "social.json"), "--json")
            )  # fmt: skip
            api_provider = {"id": "health", "type": "legacy_sql", "config": config}
            same(provider, answer(api.post("/providers", json=api_provider), 201))
            assert run("providers", "remove", "social").returncode == 0

            rotated = ok_json(run("keys", "rotate", "--force", "--json"))
            same(rotated, answer(api.post("/keys/rotate", json={"force": True})))
            assert run("departments", "remove", "north").returncode == 0

            # What the command lists is the API's documents too.
            for command, path, key in (
                ("clients", "/clients", "clients"),
                ("departments", "/departments", "departments"),
                ("roles", "/roles", "roles"),
                ("providers", "/providers", "providers"),
                ("keys", "/keys", "keys"),
            ):
                printed = ok_json(run(command, "list", "--json"))[key]
                same(printed[0], answer(api.get(path))["items"][0])

            operator = getpass.getuser()
            entries = answer(api.get("/audit", params={"actor": operator, "limit": 200}))["items"]
            by_api = answer(api.get("/audit", params={"actor": world.city_admin, "limit": 200}))
    assert [(e["event"], e["target"]) for e in entries] == [
        ("admin.client.created", client_id),
        ("admin.account.created", account["id"]),
        ("admin.department.created", "north"),
        ("admin.department.moved", "north"),
        ("admin.role.created", role["id"]),
        ("admin.assignment.created", account["id"]),
        ("admin.assignment.deleted", account["id"]),
        ("admin.role.deleted", entries[7]["target"]),
        ("admin.policy.updated", client_id),
        ("admin.assignment.created", account["id"]),
        ("admin.provider.added", "social"),
        ("admin.provider.removed", "social"),
        ("admin.key.rotated", rotated["active_kid"]),
        ("admin.department.deleted", "north"),
    ]
    assert all(e["actor"] == operator and e["details"]["via"] == "cli" for e in entries)
    assert entries[1]["details"]["after"]["username"] != "clerk"  # masked, as the API's are
    assert by_api["items"] and all("via" not in e["details"] for e in by_api["items"])


@pytest.mark.parametrize(
    ("args", "stdin", "words"),
    [
        # Each is accepted by the registration rules alone, and refused by the admin API.
        (["clients", "create", "--name", "x", "--grant-type", "client_credentials",
          *[part for n in range(51) for part in ("--scope", f"s{n}")]], None, ["scopes"]),
        (["clients", "create", "--name", "x",
          "--redirect-uri", "https://a.example/" + "a" * 2000], None, ["redirect_uris"]),
        (["policies", "set", "CLIENT"], '{"roles": ["a\\u0000b"]}', ["NUL"]),
        (["providers", "add", "--id", "x", "--type", "legacy_sql", "--config", "CONFIG"], None,
         ["id"]),
    ],
)  # fmt: skip
def test_the_command_refuses_what_the_admin_api_refuses(
    cli, tmp_path: Path, args, stdin, words
) -> None:
    client = ok_json(cli("clients", "create", "--name", "App", "--grant-type",
                         "client_credentials", "--json"))["client_id"]  # fmt: skip
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"name": "x", "url": "sqlite:///x.db", "table": "t",
                                  "scheme": "md5", "columns": {"subject": "a", "username": "b",
                                  "password": "c"}}))  # fmt: skip
    args = [{"CLIENT": client, "CONFIG": str(config)}.get(a, a) for a in args]
    refused(cli(*args, stdin=stdin), *words)
    assert {c["client_id"] for c in ok_json(cli("clients", "list", "--json"))["clients"]} == {
        client,
        CONSOLE_CLIENT_ID,
    }
    assert ok_json(cli("policies", "show", client))["version"] == 0
    assert ok_json(cli("providers", "list", "--json"))["providers"] == []


def test_an_app_shares_another_departments_sector_only_with_a_reason(cli) -> None:
    ok_json(cli("departments", "add", "east", "--name", "东区", "--json"))
    ok_json(cli("departments", "add", "west", "--name", "西区", "--json"))
    west = ("clients", "create", "--name", "西区医保", "--department", "west")
    ok_json(cli(*west, "--redirect-uri", "https://city.gov.cn/west/cb", "--json"))
    east = ("clients", "create", "--name", "东区社保", "--department", "east")
    refused(cli(*east, "--redirect-uri", "https://city.gov.cn/east/cb"), "sector_reason")
    refused(
        cli(*east, "--redirect-uri", "https://east.gov.cn/cb", "--sector-reason", "x"),
        "sector_reason",
    )
    made = ok_json(
        cli(*east, "--redirect-uri", "https://city.gov.cn/east/cb", "--json",
            "--sector-reason", "批准文号 21")
    )  # fmt: skip
    assert made["department_id"] == "east"


def test_clients_get_the_public_sub_only_with_a_reason(cli) -> None:
    args = ("clients", "create", "--name", "主题库", "--redirect-uri", "https://data.example/cb")
    refused(cli(*args, "--subject-type", "public"), "subject_type_reason")
    refused(cli(*args, "--subject-type-reason", "joins records"), "subject_type_reason")
    made = ok_json(
        cli(*args, "--subject-type", "public", "--subject-type-reason", "批准文号 17", "--json")
    )
    assert made["subject_type"] == "public"
    native = ok_json(
        cli("clients", "create", "--name", "移动办公", "--public", "--json",
            "--redirect-uri", "http://127.0.0.1/cb", "--redirect-uri", "cn.gov.office:/cb")
    )  # fmt: skip
    assert native["subject_type"] == "pairwise" and native["sector_identifier"] is None
