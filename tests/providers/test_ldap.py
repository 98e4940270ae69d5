"""The LDAP provider against a real OpenLDAP (slapd) seeded as the tax department."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from providers.base import AccountLocked, PasswordProvider, ProviderUnavailable
from providers.ldap import LdapConfig
from tests.providers import slapd
from tests.support import ServerProcess, required

directory_started: dict[str, float] = {}


@pytest.fixture(scope="module")
def directory(tmp_path_factory: pytest.TempPathFactory):
    required(slapd.available(), "slapd with ldap-utils (apt-get install slapd ldap-utils)")
    server = slapd.start(tmp_path_factory.mktemp("slapd"))
    directory_started[server.url] = time.monotonic()
    try:
        yield server
    finally:
        server.stop()


def config(directory: ServerProcess, **changes: object) -> LdapConfig:
    values: dict[str, object] = {
        "name": "市税务局",
        "url": directory.url,
        "bind_dn": slapd.SERVICE_DN,
        "bind_password": slapd.SERVICE_PASSWORD,
        "user_base": f"ou=people,{slapd.SUFFIX}",
        "group_base": f"ou=groups,{slapd.SUFFIX}",
        "verified": ["email"],
        "timeout_seconds": 2,
    }
    values.update(changes)
    return LdapConfig.model_validate(values)


async def test_search_then_bind_maps_attributes_and_groups(directory) -> None:
    provider = config(directory).open("tax")
    assert isinstance(provider, PasswordProvider)
    identity = await provider.login("zhangwei", "tax-password-1")
    assert identity is not None
    assert identity.provider_id == "tax"
    assert identity.username == "zhangwei" and identity.name == "张伟"
    assert identity.email == "zhangwei@tax.city.gov.cn" and identity.phone == "13900139000"
    assert identity.groups == ("稽查科", "纳税服务科")
    assert identity.verified == frozenset({"email"})  # the phone is not vouched for
    assert len(identity.subject) == 36, "entryUUID: stable across renames"
    again = await provider.login("zhangwei", "tax-password-1")
    assert again is not None and again.subject == identity.subject


async def test_wrong_password_unknown_user_and_empty_password(directory) -> None:
    provider = config(directory).open("tax")
    assert await provider.login("zhangwei", "wrong") is None
    assert await provider.login("nobody", "tax-password-1") is None
    # An empty password is an anonymous bind, which LDAP accepts: it must never sign anyone in.
    assert await provider.login("zhangwei", "") is None


async def test_filter_injection_is_escaped(directory) -> None:
    provider = config(directory).open("tax")
    for attempt in ("*", "zhang*", "*)(uid=*", "zhangwei)(|(uid=*"):
        assert await provider.login(attempt, "tax-password-1") is None, attempt


async def test_an_ambiguous_name_signs_nobody_in(directory) -> None:
    assert await config(directory).open("tax").login("twin", "twin-password") is None


async def test_a_directory_that_is_down_names_the_department(directory, tmp_path: Path) -> None:
    provider = config(directory, url="ldap://127.0.0.1:1").open("tax")
    with pytest.raises(ProviderUnavailable) as error:
        await provider.login("zhangwei", "tax-password-1")
    assert error.value.department == "市税务局"
    bad_service = config(directory, bind_password="wrong").open("tax")
    with pytest.raises(ProviderUnavailable):
        await bad_service.login("zhangwei", "tax-password-1")


async def test_logins_run_off_the_event_loop(directory) -> None:
    provider = config(directory).open("tax")
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.001)

    task = asyncio.create_task(ticker())
    results = await asyncio.gather(
        *(provider.login("liuyang", "tax-password-2") for _ in range(10))
    )
    task.cancel()
    assert all(r is not None and r.name == "刘洋" for r in results)
    assert ticks > 0


def test_config_is_checked() -> None:
    with pytest.raises(ValueError):
        LdapConfig.model_validate({"name": "x", "url": "http://dir", "user_base": "dc=x"})
    with pytest.raises(ValueError):
        LdapConfig.model_validate(
            {"name": "x", "url": "ldap://dir", "user_base": "dc=x", "attributes": {"age": "a"}}
        )
    with pytest.raises(ValueError):
        LdapConfig.model_validate(
            {"name": "x", "url": "ldap://dir", "user_base": "dc=x", "surprise": 1}
        )


async def test_enabled_filter_applies_at_sign_in_and_refresh(directory) -> None:
    provider = config(directory, enabled_filter="(!(uid=liuyang))").open("tax")
    # Disabled, said only to whom knows the password; a wrong one is just a wrong password.
    with pytest.raises(AccountLocked) as refused:
        await provider.login("liuyang", "tax-password-2")
    assert refused.value.reason == "disabled"
    assert await provider.login("liuyang", "wrong-password") is None
    zhang = await provider.login("zhangwei", "tax-password-1")
    assert zhang is not None and await provider.refresh(zhang) is True
    everyone = config(directory).open("tax")
    liu = await everyone.login("liuyang", "tax-password-2")
    assert liu is not None and await provider.refresh(liu) is False


async def test_refresh_by_dn_when_there_is_no_subject_attribute(directory) -> None:
    provider = config(directory, subject_attribute="employeeNumber").open("tax")
    identity = await provider.login("zhangwei", "tax-password-1")
    assert identity is not None and identity.subject.startswith("uid=zhangwei,")
    assert await provider.refresh(identity) is True


async def test_the_password_policy_control_says_why_a_bind_was_refused(directory) -> None:
    provider = config(directory).open("tax")
    assert slapd.lock_state(directory, "locked") is None
    for _ in range(slapd.MAX_FAILURES):
        assert await provider.login("locked", "wrong-password") is None
    assert slapd.lock_state(directory, "locked") is not None, "the directory locked it"
    # Locked: refused with the right password and a wrong one alike, as the directory says.
    for password in ("locked-password", "wrong-password"):
        with pytest.raises(AccountLocked) as refused:
            await provider.login("locked", password)
        assert refused.value.reason == "locked" and refused.value.department == "市税务局"
    with pytest.raises(AccountLocked) as reset:
        await provider.login("renewed", "reset-password")
    assert reset.value.reason == "must_change"
    assert await provider.login("renewed", "wrong-password") is None


async def test_an_expired_password_is_refused_as_expired(directory) -> None:
    provider = config(directory).open("tax")
    # The policy's age is counted from the seeding; a second and a half of slack past it.
    elapsed = time.monotonic() - directory_started[directory.url]
    await asyncio.sleep(max(0.0, slapd.MAX_AGE + 1.5 - elapsed))
    with pytest.raises(AccountLocked) as refused:
        await provider.login("aged", "aged-password")
    assert refused.value.reason == "expired"
    assert await provider.login("aged", "wrong-password") is None
