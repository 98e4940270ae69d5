"""The provider registry and the local provider (over the real account service)."""

from __future__ import annotations

import pytest

from gateway.identity.accounts import AccountService
from gateway.identity.passwords import Passwords
from providers.base import PasswordProvider
from providers.ldap import LdapConfig
from providers.local import LocalProvider
from providers.registry import UnknownKind, ValidationError, parse_config
from store.accounts import AccountStore


def test_configs_by_kind() -> None:
    config = parse_config("ldap", {"name": "税务", "url": "ldap://dir:389", "user_base": "dc=x"})
    assert isinstance(config, LdapConfig) and config.type == "ldap"
    with pytest.raises(UnknownKind):
        parse_config("kerberos", {})
    with pytest.raises(ValidationError):
        parse_config("legacy_sql", {"name": "x"})


async def test_local_accounts_through_the_provider_protocol(database, clock) -> None:
    accounts = AccountService(AccountStore(database), Passwords(1024, 1, 1), clock)
    created = await accounts.create_local(
        username="zhou", password="a long passphrase", name="周", phone="13700137000"
    )
    local = LocalProvider("local", accounts.authenticate)
    assert isinstance(local, PasswordProvider)
    identity = await local.login("ZHOU", "a long passphrase")
    assert identity is not None
    assert (identity.provider_id, identity.subject, identity.name) == ("local", created.id, "周")
    # The phone typed with the account is sealed among its identifiers, not carried here.
    assert identity.phone is None and identity.verified == frozenset()
    assert await local.login("zhou", "wrong passphrase") is None
