"""What every department login system (a "provider") has in common — the model is Dex's
connectors: a small record of what an upstream asserts, and capability protocols. The gateway
chooses a flow by capability, never by the kind of provider.

Providers import nothing of the gateway: they speak to their upstream and return Identities.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from ipaddress import ip_address
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Identifiers an upstream may vouch for; linking rules look at which ones are verified.
IDENTIFIERS = ("phone", "email", "national_id", "uscc")
MAPPABLE = frozenset({"username", "name", *IDENTIFIERS})


def identity_mapping(value: dict[str, str]) -> dict[str, str]:
    """Validate a config's "Identity field -> upstream name" mapping (a pydantic validator)."""
    unknown = set(value) - MAPPABLE
    if unknown:
        raise ValueError(f"unknown identity fields {sorted(unknown)}; use {sorted(MAPPABLE)}")
    return value


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def web_url(value: str, *, query: bool = False) -> str:
    """Validate an upstream's URL (a pydantic validator): absolute, with a host, https (http only
    to a loopback host, for development), no credentials or fragment, a query only if allowed."""
    if value != value.strip() or any(c.isspace() or ord(c) < 32 for c in value):
        raise ValueError("must be a URL without spaces or control characters")
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise ValueError("must be an absolute https:// URL")
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number in range
    except ValueError:
        raise ValueError("has an invalid port") from None
    if not parts.hostname:
        raise ValueError("must name a host")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not hold a user name or password")
    if parts.fragment or value.endswith("#"):
        raise ValueError("must not have a fragment")
    if (parts.query or value.endswith("?")) and not query:
        raise ValueError("must not have a query")
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise ValueError("must use https (http only to localhost or a loopback address)")
    return value


def text(value: str) -> str:
    """A required setting: not blank, no control characters (a pydantic validator)."""
    if not value.strip():
        raise ValueError("must not be blank")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("must not hold control characters")
    return value


def text_values(value: dict[str, str]) -> dict[str, str]:
    """A mapping to upstream names: none of them blank (a pydantic validator)."""
    for key, name in value.items():
        try:
            text(name)
        except ValueError as error:
            raise ValueError(f"{key}: {error}") from None
    return value


@dataclass(frozen=True)
class Identity:
    """What an upstream says about the person who just signed in there."""

    provider_id: str
    subject: str  # stable and unique within the provider
    username: str | None = None
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    national_id: str | None = None
    uscc: str | None = None  # unified social credit code, for legal persons
    groups: tuple[str, ...] = ()
    verified: frozenset[str] = frozenset()  # which of IDENTIFIERS the upstream vouches for
    migrate_password: bool = False  # the password checked out against a legacy hash
    assurance: str | None = None  # this login's own level (acr), where the upstream grades it
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)  # kept server-side only


class ProviderError(Exception):
    """A provider could not answer."""


class ProviderUnavailable(ProviderError):
    """The upstream is down, slow or misconfigured; the message names the department."""

    def __init__(self, department: str, reason: str) -> None:
        super().__init__(f"{department}: {reason}")
        self.department = department
        self.reason = reason


class AnswerRefused(ProviderError):
    """The upstream's answer failed a check: ``check`` names it (``signature``, ``audience``,
    ``expired``, ``not_requested``, ``malformed``, ...), for the audit log."""

    def __init__(self, department: str, check: str) -> None:
        super().__init__(f"{department}: the answer was refused ({check})")
        self.department = department
        self.check = check


class AccountLocked(ProviderError):
    """The upstream itself refuses the account: ``locked`` or ``disabled`` (it may not sign in),
    ``expired`` or ``must_change`` (its password must be changed there first)."""

    def __init__(
        self,
        department: str,
        reason: Literal["locked", "disabled", "expired", "must_change"] = "locked",
    ) -> None:
        super().__init__(f"{department}: account {reason}")
        self.department = department
        self.reason = reason


@runtime_checkable
class PasswordProvider(Protocol):
    """Providers that check a username and password themselves (LDAP, legacy tables, local)."""

    async def login(self, username: str, password: str) -> Identity | None:
        """The identity when the password is right, None when it is not; raises
        ProviderUnavailable when the upstream cannot say."""
        ...


@runtime_checkable
class RedirectProvider(Protocol):
    """Providers that send the browser to the upstream and back (OIDC, CAS, SAML)."""

    async def login_url(
        self, callback_url: str, state: str, nonce: str, code_verifier: str
    ) -> str: ...

    async def callback(
        self, callback_url: str, params: Mapping[str, str], nonce: str, code_verifier: str
    ) -> Identity:
        """The Identity behind the answer in ``params``; the caller has checked ``state``."""
        ...


@runtime_checkable
class MetadataProvider(Protocol):
    """Providers whose upstream registers us from metadata of our own (SAML)."""

    def sp_metadata(self) -> str: ...


@runtime_checkable
class RefreshProvider(Protocol):
    """Providers that can tell whether an upstream account is still valid."""

    async def refresh(self, identity: Identity) -> bool: ...


@dataclass(frozen=True)
class Site:
    """The gateway's own side of a login system that needs one (a SAML service provider): its
    entity ID (where its metadata is published), where answers are posted, its key pair."""

    entity_id: str
    answer_url: str
    key_file: Path
    cert_file: Path


SiteMaker = Callable[[str], Site]  # a provider id -> its site


class ProviderConfig(BaseModel):
    """Common settings; each kind adds its own and opens its provider."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=100, description="Department name shown to users.")
    timeout_seconds: float = Field(5.0, gt=0, le=60, description="Limit for each upstream call.")
    verified: frozenset[str] = Field(
        frozenset(), description="Identifiers this department has verified (phone, email, ...)."
    )
    trusted_for: frozenset[Literal["phone", "email"]] = Field(
        frozenset(), description="Verified contact identifiers that may link accounts on their own."
    )
    assurance: Literal["L1", "L2", "L3"] = Field(
        "L1", description="Assurance level (acr) of the identities this department asserts."
    )
    position: int = Field(
        100, ge=-1_000_000, le=1_000_000, description="Order on the sign-in page (smaller first)."
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return text(value)

    @field_validator("verified")
    @classmethod
    def _identifiers(cls, value: frozenset[str]) -> frozenset[str]:
        unknown = set(value) - set(IDENTIFIERS)
        if unknown:
            raise ValueError(f"unknown identifiers {sorted(unknown)}; use {IDENTIFIERS}")
        return value

    def open(self, provider_id: str) -> Any:
        raise NotImplementedError

    def open_at(self, provider_id: str, site: SiteMaker) -> Any:
        """Open the provider; only kinds that need the gateway's own side (SAML) call ``site``."""
        return self.open(provider_id)
