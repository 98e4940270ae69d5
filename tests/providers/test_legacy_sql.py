"""The legacy users-table provider against real SQLite and PostgreSQL tables, with each hash
scheme a department might still have."""

from __future__ import annotations

import base64
import hashlib

import bcrypt
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from providers.base import ProviderUnavailable
from providers.legacy_sql import LegacySqlConfig, check_password


def sm3(data: bytes) -> bytes:
    """SM3 by gmssl, an implementation apart from the provider's (OpenSSL through cryptography)."""
    from gmssl import func
    from gmssl import sm3 as gm

    return bytes.fromhex(gm.sm3_hash(func.bytes_to_list(data)))


def pbkdf2(password: str, salt: str = "s4lt", rounds: int = 1000) -> str:
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), rounds)
    return f"pbkdf2_sha256${rounds}${salt}${base64.b64encode(digest).decode()}"


USERS = [
    # id, login, scheme, stored hash, salt, real name
    (1, "md5user", "md5", hashlib.md5(b"saltpw-md5").hexdigest(), "salt", "赵六"),
    (2, "sha1user", "sha1", hashlib.sha1(b"pw-sha1pepper").hexdigest(), "pepper", "钱七"),
    (3, "sha256user", "sha256", hashlib.sha256(b"xpw-sha256").hexdigest(), "x", "孙八"),
    (
        4,
        "bcryptuser",
        "bcrypt",
        bcrypt.hashpw(b"pw-bcrypt", bcrypt.gensalt(4)).decode(),
        "",
        "李九",
    ),
    (5, "pbkdfuser", "pbkdf2_sha256", pbkdf2("pw-pbkdf2"), "", "周十"),
    (6, "sm3user", "sm3", sm3(b"pw-sm3yan").hex().upper(), "yan", "吴十一"),
    (7, "sm3b64user", "sm3", base64.b64encode(sm3(b"mipw-sm3b64")).decode(), "mi", "郑十二"),
]
PASSWORDS = {
    "md5user": "pw-md5",
    "sha1user": "pw-sha1",
    "sha256user": "pw-sha256",
    "bcryptuser": "pw-bcrypt",
    "pbkdfuser": "pw-pbkdf2",
    "sm3user": "pw-sm3",
    "sm3b64user": "pw-sm3b64",
}
# How each table was written, where it differs from the default (salt first, hex).
LAYOUTS: dict[str, dict[str, str]] = {
    "sha1user": {"salt_position": "suffix"},
    "sm3user": {"salt_position": "suffix"},
    "sm3b64user": {"encoding": "base64"},
}


@pytest.fixture
async def legacy_url(database_url: str) -> str:
    """A department table ("t_user") in a fresh SQLite file or PostgreSQL database."""
    engine = create_async_engine(database_url)
    async with engine.begin() as connection:
        await connection.execute(
            sa.text(
                "CREATE TABLE t_user (uid INTEGER PRIMARY KEY, login VARCHAR(64), pwd VARCHAR(200),"
                " salt VARCHAR(32), realname VARCHAR(64), email VARCHAR(100))"
            )
        )
        for uid, login, _, stored, salt, name in USERS:
            await connection.execute(
                sa.text("INSERT INTO t_user VALUES (:uid, :login, :pwd, :salt, :name, :email)"),
                {
                    "uid": uid,
                    "login": login,
                    "pwd": stored,
                    "salt": salt,
                    "name": name,
                    "email": f"{login}@dept.city.gov.cn",
                },
            )
    await engine.dispose()
    return database_url


def provider(url: str, scheme: str, **changes: object):
    values: dict[str, object] = {
        "name": "市社保局",
        "url": url,
        "table": "t_user",
        "scheme": scheme,
        "columns": {
            "subject": "uid",
            "username": "login",
            "password": "pwd",
            "salt": "salt",
            "name": "realname",
            "email": "email",
        },
        "timeout_seconds": 3,
    }
    values.update(changes)
    return LegacySqlConfig.model_validate(values).open("social")


@pytest.mark.parametrize(("login", "scheme"), [(u[1], u[2]) for u in USERS])
async def test_each_scheme_signs_in_and_asks_for_migration(legacy_url, login, scheme) -> None:
    legacy = provider(legacy_url, scheme, **LAYOUTS.get(login, {}))
    try:
        identity = await legacy.login(login, PASSWORDS[login])
        assert identity is not None
        assert identity.migrate_password is True
        assert identity.username == login and identity.email == f"{login}@dept.city.gov.cn"
        assert identity.subject == str(next(u[0] for u in USERS if u[1] == login))
        assert identity.verified == frozenset()
        assert await legacy.login(login, PASSWORDS[login] + "x") is None
        assert await legacy.login(login, "") is None
    finally:
        await legacy.aclose()


async def test_unknown_users_and_injection_get_nothing(legacy_url) -> None:
    legacy = provider(legacy_url, "md5")
    try:
        assert await legacy.login("nobody", "pw-md5") is None
        assert await legacy.login("' OR '1'='1", "pw-md5") is None
        assert await legacy.login("md5user' --", "anything") is None
    finally:
        await legacy.aclose()


async def test_a_database_that_is_down_names_the_department(tmp_path) -> None:
    legacy = provider("postgresql+asyncpg://nobody@127.0.0.1:1/none", "md5")
    with pytest.raises(ProviderUnavailable) as error:
        await legacy.login("md5user", "pw-md5")
    assert error.value.department == "市社保局"
    (tmp_path / "empty.db").touch()  # a database without the table (a missing file is refused)
    missing_table = provider(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}", "md5")
    try:
        with pytest.raises(ProviderUnavailable):
            await missing_table.login("md5user", "pw-md5")
    finally:
        await missing_table.aclose()


def test_sm3_matches_the_standards_vector() -> None:
    """GB/T 32905-2016 Appendix A.1: SM3("abc")."""
    vector = "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    assert sm3(b"abc").hex() == vector
    assert check_password("sm3", "abc", vector, "", "prefix")
    assert check_password("sm3", "bc", vector.upper(), "a", "prefix")
    assert check_password("sm3", "ab", vector, "c", "suffix")
    encoded = base64.b64encode(bytes.fromhex(vector)).decode()
    assert check_password("sm3", "abc", encoded, "", "prefix", "base64")
    assert not check_password("sm3", "abd", vector, "", "prefix")
    assert not check_password("sm3", "abc", vector, "", "prefix", "base64")  # hex is no base64
    assert not check_password("sm3", "abc", "not hex", "", "prefix")


def test_hash_checks_reject_malformed_hashes() -> None:
    assert not check_password("bcrypt", "pw", "not-a-hash", "", "prefix")
    assert not check_password("pbkdf2_sha256", "pw", "pbkdf2_sha256$x$y", "", "prefix")
    assert not check_password("pbkdf2_sha256", "pw", "md5$1000$s$AAAA", "", "prefix")
    assert check_password("md5", "pw", hashlib.md5(b"pw").hexdigest().upper(), "", "prefix")


def test_config_is_checked(tmp_path) -> None:
    (tmp_path / "x.db").touch()
    base = {
        "name": "x",
        "url": f"sqlite:///{tmp_path / 'x.db'}",
        "scheme": "md5",
        "columns": {"subject": "id", "username": "u", "password": "p"},
    }
    assert LegacySqlConfig.model_validate({**base, "table": "users"}).url.startswith("sqlite+aio")
    for bad in (
        {"table": "users; DROP TABLE x"},
        {"table": "u", "scheme": "crypt"},
        {"table": "u", "columns": {"subject": "id"}},
        {"table": "u", "url": f"sqlite:///{tmp_path / 'missing.db'}"},  # would be created empty
        {"table": "u", "url": "postgresql+psycopg2://db/x"},  # not an async driver
    ):
        with pytest.raises(ValueError):
            LegacySqlConfig.model_validate({**base, **bad})
