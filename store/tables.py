"""The durable schema. Alembic migrations in ``store/migrations`` create exactly these tables."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class EpochTime(TypeDecorator[float]):
    """A ``timestamp with time zone`` column that Python sees as epoch seconds (what the injected
    clock speaks); SQLite's naive values are read back as UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: float | None, dialect: Any) -> datetime | None:
        return None if value is None else datetime.fromtimestamp(value, UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> float | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.timestamp()


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class AccountRow(Base):
    __tablename__ = "accounts"
    __table_args__ = (
        # The console's searches by the start of a username or a name: a LIKE 'start%' is a range
        # of these (PostgreSQL's own index on a column serves LIKE only under the C collation).
        Index(
            "ix_accounts_username_prefix",
            "username",
            postgresql_ops={"username": "varchar_pattern_ops"},
        ),
        Index("ix_accounts_name_prefix", "name", postgresql_ops={"name": "varchar_pattern_ops"}),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(254))
    password_hash: Mapped[str | None] = mapped_column(String(256))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    kind: Mapped[str] = mapped_column(String(16), default="person", server_default="person")
    assurance: Mapped[str] = mapped_column(String(4), default="L1", server_default="L1")
    department_id: Mapped[str | None] = mapped_column(String(32), index=True)
    created_at: Mapped[float] = mapped_column(EpochTime)
    updated_at: Mapped[float] = mapped_column(EpochTime)


class AccountIdentifierRow(Base):
    """An identifier of an account (phone, e-mail, national ID number, credit code): encrypted,
    found by a keyed blind index, so the database alone reveals none of them."""

    __tablename__ = "account_identifiers"
    __table_args__ = (
        # An account has at most one verified phone (a phone has one account: the primary key).
        Index(
            "uq_account_identifiers_one_phone",
            "account_id",
            unique=True,
            sqlite_where=text("type = 'phone' AND verified"),
            postgresql_where=text("type = 'phone' AND verified"),
        ),
    )

    type: Mapped[str] = mapped_column(String(16), primary_key=True)
    blind_index: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(36), index=True)
    value: Mapped[str] = mapped_column(Text)  # encrypted with the master key
    verified: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[float] = mapped_column(EpochTime)


class LinkedIdentityRow(Base):
    """A department login (provider, upstream subject) that belongs to an account."""

    __tablename__ = "linked_identities"

    provider_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    subject: Mapped[str] = mapped_column(String(255), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(36), index=True)
    first_login_at: Mapped[float] = mapped_column(EpochTime)
    last_login_at: Mapped[float] = mapped_column(EpochTime)
    last_attributes: Mapped[str] = mapped_column(Text)  # encrypted JSON of what was asserted


class ProviderRow(Base):
    """A configured department login system; its config (with secrets) is encrypted."""

    __tablename__ = "providers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    type: Mapped[str] = mapped_column(String(32))
    config: Mapped[str] = mapped_column(Text)  # encrypted JSON
    created_at: Mapped[float] = mapped_column(EpochTime)
    # Not offered on the sign-in page, its callback refuses; its settings are kept.
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class MigratedLoginRow(Base):
    """A department username whose password now lives in 一号通 (argon2id): its next sign-in
    is checked here and the department table is no longer asked."""

    __tablename__ = "migrated_logins"

    provider_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(255), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(36))
    migrated_at: Mapped[float] = mapped_column(EpochTime)


class ClientRow(Base):
    __tablename__ = "clients"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    secret_digest: Mapped[str | None] = mapped_column(String(64))
    public: Mapped[bool] = mapped_column(Boolean)
    token_endpoint_auth_method: Mapped[str | None] = mapped_column(String(32))
    redirect_uris: Mapped[list[str]] = mapped_column(JSON)
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(JSON)
    backchannel_logout_uri: Mapped[str | None] = mapped_column(String(2000))
    frontchannel_logout_uri: Mapped[str | None] = mapped_column(String(2000))
    subject_type: Mapped[str] = mapped_column(String(16), default="public", server_default="public")
    sector_identifier: Mapped[str | None] = mapped_column(String(255))
    grant_types: Mapped[list[str]] = mapped_column(JSON)
    scopes: Mapped[list[str]] = mapped_column(JSON)
    require_consent: Mapped[bool] = mapped_column(Boolean)
    department_id: Mapped[str | None] = mapped_column(String(32), index=True)
    access_token_format: Mapped[str] = mapped_column(String(8), default="jwt", server_default="jwt")
    resource_server: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    admin_console: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    protocol: Mapped[str] = mapped_column(String(8), default="oidc", server_default="oidc")
    service_urls: Mapped[list[str]] = mapped_column(JSON, default=list)
    cas_proxy: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    cas_v1: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    dpop_bound_access_tokens: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    require_pushed_authorization_requests: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    sp_metadata: Mapped[str] = mapped_column(Text, default="", server_default="")
    requests_per_minute: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    state: Mapped[str] = mapped_column(String(16), default="live", server_default="live")
    created_at: Mapped[float] = mapped_column(EpochTime)
    updated_at: Mapped[float] = mapped_column(EpochTime)


class ResourceRow(Base):
    """A department API as a protected resource (RFC 8707), by its audience URI."""

    __tablename__ = "resources"

    audience: Mapped[str] = mapped_column(String(500), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    access_token_format: Mapped[str] = mapped_column(String(8))
    allowed_clients: Mapped[list[str]] = mapped_column(JSON)
    exchange_clients: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[float] = mapped_column(EpochTime)
    updated_at: Mapped[float] = mapped_column(EpochTime)


class SigningKeyRow(Base):
    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    alg: Mapped[str] = mapped_column(String(16), index=True)
    state: Mapped[str] = mapped_column(String(8))
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    private_key: Mapped[str] = mapped_column(Text)
    created_at: Mapped[float] = mapped_column(EpochTime)
    activated_at: Mapped[float | None] = mapped_column(EpochTime)
    retired_at: Mapped[float | None] = mapped_column(EpochTime)
    publish_until: Mapped[float | None] = mapped_column(EpochTime)


class KeyRingGenerationRow(Base):
    """One row per algorithm; rotating bumps ``generation`` by compare-and-swap, so of two
    instances rotating at once exactly one succeeds."""

    __tablename__ = "key_ring_generations"

    alg: Mapped[str] = mapped_column(String(16), primary_key=True)
    generation: Mapped[int] = mapped_column(Integer)
    rotated_at: Mapped[float] = mapped_column(EpochTime)


class RefreshTokenRow(Base):
    """One row per refresh token ever issued (by SHA-256 digest). Tokens of one authorization
    form a family: a token used twice revokes its whole family (RFC 9700 §4.14.2)."""

    __tablename__ = "refresh_tokens"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    family_id: Mapped[str] = mapped_column(String(43), index=True)
    client_id: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[str] = mapped_column(String(36), index=True)
    scope: Mapped[str] = mapped_column(Text)
    sid: Mapped[str | None] = mapped_column(String(43), index=True)
    offline: Mapped[bool] = mapped_column(Boolean)
    auth_time: Mapped[float] = mapped_column(EpochTime)
    acr: Mapped[str | None] = mapped_column(String(64))
    amr: Mapped[list[str]] = mapped_column(JSON)
    access_jti: Mapped[str | None] = mapped_column(String(43))
    act_for: Mapped[str | None] = mapped_column(String(36))  # the enterprise acted for, if any
    dpop_jkt: Mapped[str | None] = mapped_column(String(64))  # RFC 9449 §5 (public clients)
    created_at: Mapped[float] = mapped_column(EpochTime)
    expires_at: Mapped[float] = mapped_column(EpochTime)
    used_at: Mapped[float | None] = mapped_column(EpochTime)
    revoked_at: Mapped[float | None] = mapped_column(EpochTime)


class ConsentRow(Base):
    """What an account allowed a client to have; asked again only for more."""

    __tablename__ = "consents"

    account_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    scopes: Mapped[list[str]] = mapped_column(JSON)
    granted_at: Mapped[float] = mapped_column(EpochTime)


class SubjectIdentifierRow(Base):
    """Pairwise subject identifiers (OIDC Core §8.1), so a `sub` can be traced back to its
    account by the gateway and by nobody else."""

    __tablename__ = "subject_identifiers"

    sector: Mapped[str] = mapped_column(String(255), primary_key=True)
    subject: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(36))


class DepartmentRow(Base):
    """A node of the organisation tree (市 → 县(区) → 部门); ``path`` is the ids from the root,
    e.g. ``/city/district-a/tax``, so a subtree is one prefix match."""

    __tablename__ = "departments"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("departments.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    path: Mapped[str] = mapped_column(String(1000), unique=True)
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[float] = mapped_column(EpochTime)
    updated_at: Mapped[float] = mapped_column(EpochTime)


class GroupRow(Base):
    __tablename__ = "groups"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    department_id: Mapped[str | None] = mapped_column(String(32), index=True)
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[float] = mapped_column(EpochTime)
    updated_at: Mapped[float] = mapped_column(EpochTime)


class GroupMemberRow(Base):
    __tablename__ = "group_members"

    group_id: Mapped[str] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True
    )
    account_id: Mapped[str] = mapped_column(String(36), primary_key=True, index=True)
    added_at: Mapped[float] = mapped_column(EpochTime)


class RoleRow(Base):
    """A role: global (``client_id`` empty) or defined by one app."""

    __tablename__ = "roles"
    __table_args__ = (UniqueConstraint("client_id", "name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), index=True)  # "" for a global role
    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(String(500))
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[float] = mapped_column(EpochTime)
    updated_at: Mapped[float] = mapped_column(EpochTime)


class RoleAssignmentRow(Base):
    """An account holds a role within a department subtree (``department_id`` NULL: the whole
    city) until it expires: RBAC with domains. The foreign key makes an assignment to a missing
    department impossible, and keeps a department with assignments from being deleted."""

    __tablename__ = "role_assignments"
    __table_args__ = (
        UniqueConstraint("role_id", "account_id", "department_id"),
        Index(
            "uq_role_assignments_everywhere",
            "role_id",
            "account_id",
            unique=True,
            sqlite_where=text("department_id IS NULL"),
            postgresql_where=text("department_id IS NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    role_id: Mapped[str] = mapped_column(ForeignKey("roles.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[str] = mapped_column(String(36), index=True)
    department_id: Mapped[str | None] = mapped_column(
        ForeignKey("departments.id", ondelete="RESTRICT"), index=True
    )
    granted_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[float] = mapped_column(EpochTime)
    expires_at: Mapped[float | None] = mapped_column(EpochTime)


class ClientPolicyRow(Base):
    """Who may use a client and what its tokens say about them (a JSON document validated by
    the gateway); ``version`` is the ETag for safe concurrent edits."""

    __tablename__ = "client_policies"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[float] = mapped_column(EpochTime)


class DelegationRow(Base):
    """A person acting for an enterprise (法人): its legal representative, an administrator the
    representative appointed, or a member of staff (经办人)."""

    __tablename__ = "delegations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    organisation_id: Mapped[str] = mapped_column(String(36), index=True)
    member_id: Mapped[str] = mapped_column(String(36), index=True)
    position: Mapped[str] = mapped_column(String(16))  # representative, administrator, staff
    roles: Mapped[list[str]] = mapped_column(JSON)
    granted_by: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[float] = mapped_column(EpochTime)
    expires_at: Mapped[float | None] = mapped_column(EpochTime)
    revoked_at: Mapped[float | None] = mapped_column(EpochTime)


class AuditEventRow(Base):
    """The append-only audit log (the database refuses updates and deletes of it)."""

    __tablename__ = "audit_events"
    # The overview's sign-ins a day and apps of the week: one range of it per event.
    __table_args__ = (Index("ix_audit_events_event_at", "event", "at"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[float] = mapped_column(EpochTime, index=True)
    event: Mapped[str] = mapped_column(String(64), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str | None] = mapped_column(String(128), index=True)
    target: Mapped[str | None] = mapped_column(String(128), index=True)
    client_id: Mapped[str | None] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(64))
    check: Mapped[str | None] = mapped_column(String(32))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Set on entries written in batches: a replay of the local spool skips the ones already in.
    entry_id: Mapped[str | None] = mapped_column(String(32), index=True, unique=True)


class RevocationRow(Base):
    """Revoked access tokens (``kind`` "jti") and ended SSO sessions ("sid") until the tokens they
    stop would have expired anyway: the durable copy of the expiring store's marks."""

    __tablename__ = "revocations"

    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    value: Mapped[str] = mapped_column(String(128), primary_key=True)
    expires_at: Mapped[float] = mapped_column(EpochTime, index=True)


class AccountOtpRow(Base):
    """An account's TOTP second factor (RFC 6238): the secret encrypted with the master key, and
    the last time step used, so a code works once."""

    __tablename__ = "account_otp"

    account_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    secret: Mapped[str] = mapped_column(Text)
    confirmed: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[float] = mapped_column(EpochTime)
    last_step: Mapped[int | None] = mapped_column(BigInteger)


class PasskeyRow(Base):
    """A person's passkey (WebAuthn credential): its public key, the signature counter it last
    reported (never allowed to go back), and the name its owner gave it."""

    __tablename__ = "passkeys"

    credential_id: Mapped[str] = mapped_column(String(1400), primary_key=True)  # base64url
    account_id: Mapped[str] = mapped_column(String(36), index=True)
    public_key: Mapped[str] = mapped_column(Text)  # COSE key, base64url
    sign_count: Mapped[int] = mapped_column(BigInteger)
    transports: Mapped[list[str]] = mapped_column(JSON)
    aaguid: Mapped[str] = mapped_column(String(36))
    backed_up: Mapped[bool] = mapped_column(Boolean)
    name: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[float] = mapped_column(EpochTime)
    last_used_at: Mapped[float | None] = mapped_column(EpochTime)


class AgreementRow(Base):
    """The version of a document (the user agreement, the privacy policy) a person accepted,
    and when: the evidence of consent for an account registered by SMS code."""

    __tablename__ = "account_agreements"

    account_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    document: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    accepted_at: Mapped[float] = mapped_column(EpochTime)


class RecoveryCodeRow(Base):
    """One of an account's recovery codes for the authenticator app: only a keyed digest of the
    code, and when it was used (a code works once)."""

    __tablename__ = "recovery_codes"

    account_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[float] = mapped_column(EpochTime)
    used_at: Mapped[float | None] = mapped_column(EpochTime)


class RealNameCheckRow(Base):
    """Evidence of a real-name check that raised an account's level: the level, the method, the
    backend's reference and when; the ID number sealed with its blind index, as other PII."""

    __tablename__ = "real_name_checks"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(36), index=True)
    level: Mapped[str] = mapped_column(String(4))
    method: Mapped[str] = mapped_column(String(32))
    backend: Mapped[str] = mapped_column(String(16))
    reference: Mapped[str] = mapped_column(String(128))
    national_id_index: Mapped[str] = mapped_column(String(64))
    national_id: Mapped[str] = mapped_column(Text)  # encrypted with the master key
    name: Mapped[str] = mapped_column(Text)  # encrypted with the master key
    checked_at: Mapped[float] = mapped_column(EpochTime)


class AppInstallationRow(Base):
    """An installation of one of the city's own apps: a refresh token family, with the device
    name the app gave when it signed in and the DPoP key it is bound to, if any."""

    __tablename__ = "app_installations"

    family_id: Mapped[str] = mapped_column(String(43), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(36), index=True)
    client_id: Mapped[str] = mapped_column(String(64))
    device_name: Mapped[str] = mapped_column(String(100))
    dpop_jkt: Mapped[str | None] = mapped_column(String(64))
    registered_at: Mapped[float] = mapped_column(EpochTime)


class SignInPlaceRow(Base):
    """What an account has signed in from before: ``device`` (a digest of a browser's random
    device cookie) or ``province`` (country and province of the address), and when last."""

    __tablename__ = "sign_in_places"

    account_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    value: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_seen: Mapped[float] = mapped_column(EpochTime)
