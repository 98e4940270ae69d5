"""The ``yihaotong`` command, run as a real process: the contract in DESIGN.md."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

YIHAOTONG = shutil.which("yihaotong", path=str(Path(sys.executable).parent)) or "yihaotong"


@pytest.fixture
def cli(tmp_path: Path):
    env = {key: value for key, value in os.environ.items() if not key.startswith("YIHAOTONG_")} | {
        "YIHAOTONG_DATA_DIR": str(tmp_path / "var"),
        "YIHAOTONG_LOG_LEVEL": "WARNING",
    }

    def run(*args: str, stdin: str | None = None, **extra_env: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [YIHAOTONG, *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env | extra_env,
            timeout=60,
        )

    return run


def ok_json(result: subprocess.CompletedProcess) -> dict:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def refused(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode != 0
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")
    for word in words:
        assert word in result.stderr
    assert "Traceback" not in result.stderr


def test_init_creates_data_dir_and_a_private_master_key(cli, tmp_path: Path) -> None:
    document = ok_json(cli("init", "--json"))
    master = Path(document["master_key_file"])
    assert document["master_key_created"] is True
    assert master.stat().st_mode & 0o777 == 0o600
    again = ok_json(cli("init", "--json"))
    assert again["master_key_created"] is False
    keys = ok_json(cli("keys", "list", "--json"))["keys"]
    assert sorted(k["state"] for k in keys) == ["active", "next"]
    assert all(k["alg"] == "RS256" and k["published"] for k in keys)


def test_users_create(cli) -> None:
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
    listed = ok_json(cli("clients", "list", "--json"))["clients"]
    assert [c["client_id"] for c in listed] == [client["client_id"]]
    assert "client_secret" not in listed[0]


def test_clients_create_public_and_pinned(cli) -> None:
    public = ok_json(
        cli(
            "clients", "create", "--name", "移动办公", "--public",
            "--redirect-uri", "cn.gov.city.office:/oauth2redirect", "--json",
        )
    )  # fmt: skip
    assert public["client_secret"] is None
    assert public["token_endpoint_auth_method"] == "none"
    pinned = ok_json(
        cli(
            "clients", "create", "--name", "后台服务", "--grant-type", "client_credentials",
            "--token-endpoint-auth-method", "client_secret_post", "--scope", "a.read",
            "--scope", "a.write", "--json",
        )
    )  # fmt: skip
    assert pinned["token_endpoint_auth_method"] == "client_secret_post"
    assert pinned["grant_types"] == ["client_credentials"]
    assert pinned["scope"] == "a.read a.write"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--redirect-uri", "http://app.example.gov.cn/cb"], ["loopback"]),
        (["--redirect-uri", "https://app.example.gov.cn/cb#frag"], ["fragment"]),
        (["--redirect-uri", "https://*.example.gov.cn/cb"], ["wildcard"]),
        (["--redirect-uri", "javascript:alert(1)"], ["scheme"]),
        (["--redirect-uri", "/relative/cb"], ["absolute"]),
        (["--redirect-uri", "cn.gov.app:/cb"], ["scheme"]),  # private-use needs --public
        ([], ["redirect URI"]),
        (["--grant-type", "password"], ["password"]),
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


def test_bad_configuration_is_reported_not_thrown(cli) -> None:
    result = cli("init", YIHAOTONG_ISSUER="ftp://nope", YIHAOTONG_SIGNING_ALGS="HS256")
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


def test_a_lost_master_key_is_never_silently_replaced(cli, tmp_path: Path) -> None:
    ok_json(cli("init", "--json"))
    master = tmp_path / "var" / "master.key"
    master.unlink()
    refused(cli("init"), "master key", "restore")
    assert not master.exists()
    served = cli("serve", "--port", "1")  # logs its warnings first, then the error
    assert served.returncode == 1
    assert "restore" in served.stderr and "Traceback" not in served.stderr


def test_bad_log_level_is_a_configuration_error(cli) -> None:
    result = cli("init", YIHAOTONG_LOG_LEVEL="verbose")
    assert result.returncode == 2 and "YIHAOTONG_LOG_LEVEL" in result.stderr
