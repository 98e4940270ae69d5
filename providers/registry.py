"""Provider kinds by name. Each kind's module is imported only when used, so a deployment
installs only the client libraries of the kinds it runs (the ldap, legacy extras)."""

from __future__ import annotations

import importlib
from typing import Any

from pydantic import ValidationError

from providers.base import ProviderConfig

KINDS: dict[str, str] = {
    "ldap": "providers.ldap:LdapConfig",
    "legacy_sql": "providers.legacy_sql:LegacySqlConfig",
    "oidc": "providers.oidc:OidcConfig",
    "cas": "providers.cas:CasConfig",
    "province": "providers.province:ProvinceConfig",
    "saml": "providers.saml:SamlConfig",
}


class UnknownKind(ValueError):
    pass


def config_class(kind: str) -> type[ProviderConfig]:
    try:
        module_name, _, class_name = KINDS[kind].partition(":")
    except KeyError:
        raise UnknownKind(f"unknown provider type {kind!r}; use one of {sorted(KINDS)}") from None
    return getattr(importlib.import_module(module_name), class_name)


def parse_config(kind: str, data: dict[str, Any]) -> ProviderConfig:
    """The validated config of ``kind``; raises UnknownKind or pydantic's ValidationError."""
    return config_class(kind).model_validate({**data, "type": kind})


__all__ = ["KINDS", "UnknownKind", "ValidationError", "config_class", "parse_config"]
