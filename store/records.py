"""What the durable store hands out: plain frozen records, never ORM objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    username: str
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    password_hash: str | None = None
    disabled: bool = False
    kind: str = "person"  # person (自然人), legal_person (法人), staff (civil servant)
    assurance: str = "L1"  # L1 registered, L2 real-name verified, L3 verified in person
    department_id: str | None = None  # where a member of staff works
    created_at: float = 0.0
    updated_at: float = 0.0


@dataclass(frozen=True, slots=True)
class AccountIdentifier:
    account_id: str
    type: str  # phone, email, national_id, uscc
    blind_index: str
    value: str  # encrypted
    verified: bool
    created_at: float


@dataclass(frozen=True, slots=True)
class LinkedIdentity:
    provider_id: str
    subject: str
    account_id: str
    first_login_at: float
    last_login_at: float
    last_attributes: str  # encrypted JSON


@dataclass(frozen=True, slots=True)
class Client:
    client_id: str
    name: str
    public: bool
    secret_digest: str | None = None
    token_endpoint_auth_method: str | None = None
    redirect_uris: tuple[str, ...] = ()
    post_logout_redirect_uris: tuple[str, ...] = ()
    backchannel_logout_uri: str | None = None
    frontchannel_logout_uri: str | None = None
    # "pairwise" for every new app (OIDC Core §8.1); "public" only by a city-wide decision.
    subject_type: str = "pairwise"
    sector_identifier: str | None = None
    grant_types: tuple[str, ...] = ("authorization_code", "refresh_token")
    scopes: tuple[str, ...] = ()
    require_consent: bool = False
    department_id: str | None = None  # the department that owns the app (its admins manage it)
    access_token_format: str = "jwt"  # noqa: S105 (a format name) — or "opaque", a reference
    resource_server: bool = False  # may introspect other clients' access tokens (RFC 7662 §2.1)
    admin_console: bool = False  # the admin API accepts its tokens (a city-wide designation)
    protocol: str = "oidc"  # or "cas" (later "saml"): how the app signs people in
    service_urls: tuple[str, ...] = ()  # CAS: exact service URLs, or prefixes ending in "*"
    cas_proxy: bool = False  # CAS: may receive proxy-granting tickets (CAS 3.0 §2.5.4)
    cas_v1: bool = False  # CAS: may validate with /cas/validate (CAS 1.0, no attributes)
    dpop_bound_access_tokens: bool = False  # token requests need a DPoP proof (RFC 9449 §5.2)
    require_pushed_authorization_requests: bool = False  # RFC 9126 §6
    sp_metadata: str = ""  # SAML: the service provider's metadata document (SAML 2.0 Metadata)
    requests_per_minute: int = 0  # at each of token, introspection, UserInfo; 0: the default
    state: str = "live"  # draft, live, suspended or retired (policies/app_lifecycle.py)
    created_at: float = 0.0
    updated_at: float = 0.0


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A signing key as stored: the private half stays encrypted until the key ring opens it."""

    kid: str
    alg: str
    state: str  # "next" (published, not yet signing), "active" (signing), "retired" (published)
    public_jwk: dict[str, Any] = field(hash=False)
    private_key: str  # encrypted with the master key
    created_at: float
    activated_at: float | None = None
    retired_at: float | None = None
    publish_until: float | None = None


@dataclass(frozen=True, slots=True)
class RefreshToken:
    digest: str
    family_id: str
    client_id: str
    account_id: str
    scope: str
    offline: bool
    auth_time: float
    created_at: float
    expires_at: float
    sid: str | None = None
    acr: str | None = None
    amr: tuple[str, ...] = ()
    access_jti: str | None = None
    act_for: str | None = None  # the enterprise (legal-person account) acted for
    dpop_jkt: str | None = None  # a public client's key it is bound to (RFC 9449 §5)
    used_at: float | None = None
    revoked_at: float | None = None


@dataclass(frozen=True, slots=True)
class Resource:
    """A department API as a protected resource (RFC 8707): the audience its tokens name and
    the scopes it accepts."""

    audience: str
    name: str
    scopes: tuple[str, ...] = ()
    access_token_format: str = "jwt"  # noqa: S105 (a format name) — or "opaque"
    allowed_clients: tuple[str, ...] = ()  # the clients that may ask for tokens to it
    exchange_clients: tuple[str, ...] = ()  # may exchange people's tokens for it (RFC 8693)
    created_at: float = 0.0
    updated_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Department:
    id: str
    name: str
    path: str  # ids from the root: /city/district-a/tax
    version: int
    created_at: float
    updated_at: float
    parent_id: str | None = None


@dataclass(frozen=True, slots=True)
class Group:
    id: str
    name: str
    version: int
    created_at: float
    updated_at: float
    department_id: str | None = None


@dataclass(frozen=True, slots=True)
class Role:
    id: str
    client_id: str  # "" for a global role
    name: str
    description: str
    version: int
    created_at: float
    updated_at: float


@dataclass(frozen=True, slots=True)
class RoleAssignment:
    id: str
    role_id: str
    account_id: str
    department_id: str  # "" for everywhere
    granted_by: str
    created_at: float
    expires_at: float | None = None


@dataclass(frozen=True, slots=True)
class ClientPolicy:
    client_id: str
    document: dict[str, Any] = field(hash=False)
    version: int
    updated_at: float


@dataclass(frozen=True, slots=True)
class Delegation:
    id: str
    organisation_id: str
    member_id: str
    position: str  # representative, administrator, staff
    roles: tuple[str, ...]
    granted_by: str
    version: int
    created_at: float
    expires_at: float | None = None
    revoked_at: float | None = None

    def active(self, now: float) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


@dataclass(frozen=True, slots=True)
class AuditEvent:
    event: str  # e.g. login.succeeded, admin.client.updated
    outcome: str = "success"  # success, failure, denied
    actor: str | None = None
    target: str | None = None
    client_id: str | None = None
    ip: str | None = None
    request_id: str | None = None
    check: str | None = None  # the policy check that decided
    details: dict[str, Any] = field(default_factory=dict, hash=False)
    at: float = 0.0
    id: int | None = None
    entry_id: str | None = None  # stable across replays of the local spool
