"""The durable schema. Alembic migrations in ``store/migrations`` create exactly these tables."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Integer, MetaData, String, Text, TypeDecorator
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

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(254))
    password_hash: Mapped[str | None] = mapped_column(String(256))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    kind: Mapped[str] = mapped_column(String(16), default="person", server_default="person")
    assurance: Mapped[str] = mapped_column(String(4), default="L1", server_default="L1")
    created_at: Mapped[float] = mapped_column(EpochTime)
    updated_at: Mapped[float] = mapped_column(EpochTime)


class AccountIdentifierRow(Base):
    """An identifier of an account (phone, e-mail, national ID number, credit code): encrypted,
    found by a keyed blind index, so the database alone reveals none of them."""

    __tablename__ = "account_identifiers"

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
