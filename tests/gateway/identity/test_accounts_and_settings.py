"""Account service on both databases (argon2id, rehash on login) and the settings' warnings."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from pydantic import ValidationError

from gateway.identity.accounts import AccountService
from gateway.identity.errors import AlreadyExists, InvalidInput
from gateway.identity.passwords import Passwords
from gateway.server.settings import Settings
from store.accounts import AccountStore

FAST = {"memory_kib": 1024, "time_cost": 1, "parallelism": 1}


async def test_password_hashes_are_argon2id_with_the_configured_cost(database, clock) -> None:
    service = AccountService(AccountStore(database), Passwords(**FAST), clock)
    account = await service.create_local(username="li", password="a long passphrase")
    assert account.password_hash is not None
    assert account.password_hash.startswith("$argon2id$v=19$m=1024,t=1,p=1$")
    assert "a long passphrase" not in account.password_hash


async def test_the_production_cost_is_the_default(database, clock, monkeypatch) -> None:
    """OWASP's argon2id parameters unless configured (the tests' own servers run cheaper)."""
    monkeypatch.delenv("YIHAOTONG_ARGON2_MEMORY_KIB", raising=False)
    monkeypatch.delenv("YIHAOTONG_ARGON2_TIME_COST", raising=False)
    settings = Settings()
    passwords = Passwords(
        settings.argon2_memory_kib, settings.argon2_time_cost, settings.argon2_parallelism
    )
    service = AccountService(AccountStore(database), passwords, clock)
    account = await service.create_local(username="li", password="a long passphrase")
    assert account.password_hash is not None
    assert account.password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert await service.authenticate("li", "a long passphrase") is not None


async def test_authenticate_checks_the_password(database, clock) -> None:
    service = AccountService(AccountStore(database), Passwords(**FAST), clock)
    await service.create_local(username="li", password="a long passphrase")
    assert (await service.authenticate("LI", "a long passphrase")) is not None
    assert await service.authenticate("li", "a long passphrase!") is None
    assert await service.authenticate("nobody", "a long passphrase") is None


async def test_login_rehashes_when_parameters_change(database, clock) -> None:
    store = AccountStore(database)
    old = AccountService(store, Passwords(**FAST), clock)
    created = await old.create_local(username="li", password="a long passphrase")
    stronger = AccountService(store, Passwords(memory_kib=2048, time_cost=2, parallelism=1), clock)
    clock.advance(10)
    assert await stronger.authenticate("li", "a long passphrase") is not None
    rehashed = await store.get(created.id)
    assert rehashed is not None and rehashed.password_hash != created.password_hash
    assert "$m=2048,t=2,p=1$" in rehashed.password_hash
    assert rehashed.updated_at == created.updated_at + 10
    PasswordHasher().verify(rehashed.password_hash, "a long passphrase")
    # A wrong password never rewrites the hash.
    assert await old.authenticate("li", "wrong password") is None
    assert (await store.get(created.id)).password_hash == rehashed.password_hash


async def test_create_refuses_duplicates_and_bad_fields(database, clock) -> None:
    service = AccountService(AccountStore(database), Passwords(**FAST), clock)
    await service.create_local(username="li", password="a long passphrase")
    with pytest.raises(AlreadyExists):
        await service.create_local(username="Li", password="another passphrase")
    with pytest.raises(InvalidInput) as error:
        await service.create_local(username="zhao", password="pw")
    assert error.value.field == "password"


def test_unsafe_defaults_are_named(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path)
    warnings = settings.unsafe_defaults(workers=1)
    assert len(warnings) == 4
    assert any("https" in w for w in warnings) and any("SQLite" in w for w in warnings)
    assert any("sms-outbox.jsonl" in w for w in warnings)
    assert any("YIHAOTONG_REAL_NAME_BACKEND" in w for w in warnings)
    assert len(settings.unsafe_defaults(workers=4)) == 5
    production = Settings(
        issuer="https://id.city.gov.cn",
        database_url="postgresql://db/yihaotong",
        redis_url="redis://cache:6379/0",
        sms_backend="http",
        sms_http_url="https://sms.city.gov.cn/send",
        sms_http_secret="s3cret",
        real_name_backend="http",
        real_name_http_url="https://real-name.city.gov.cn/check",
        real_name_http_secret="s3cret",
    )
    assert production.unsafe_defaults(workers=4) == []


def test_settings_from_environment(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("YIHAOTONG_ISSUER", "https://id.city.gov.cn/")
    monkeypatch.setenv("YIHAOTONG_SIGNING_ALGS", "ES256, RS256")
    monkeypatch.setenv("YIHAOTONG_DATA_DIR", str(tmp_path))
    settings = Settings()
    assert settings.issuer == "https://id.city.gov.cn"
    assert settings.signing_algs == ["ES256", "RS256"]
    assert settings.default_signing_alg == "ES256"
    assert (
        settings.resolved_database_url == f"sqlite+aiosqlite:///{tmp_path.resolve()}/yihaotong.db"
    )
    assert settings.resolved_master_key_file == tmp_path / "master.key"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("issuer", "ftp://id.city.gov.cn"),
        ("issuer", "https://id.city.gov.cn/?x=1"),
        ("signing_algs", "HS256"),
        ("signing_algs", "RS256,RS256"),
        ("access_token_ttl", "0"),
        # Past the retired key's grace: another instance could still sign with a retired key.
        ("key_ring_reload_seconds", "31"),
        ("key_ring_reload_seconds", "0"),
    ],
)
def test_bad_settings_are_refused(monkeypatch, field: str, value: str) -> None:
    monkeypatch.setenv(f"YIHAOTONG_{field.upper()}", value)
    with pytest.raises(ValidationError):
        Settings()
