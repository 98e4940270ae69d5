"""A department's existing users table, reached by a SQLAlchemy URL and a column mapping.

It checks the old password hashes (each scheme named in the config) so that people sign in with
the password they already have; a successful check says ``migrate_password`` and the gateway then
keeps a fresh argon2id hash, until the department table can be retired (migration by login).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
from pathlib import Path
from typing import Any, Literal

import anyio.to_thread
import sqlalchemy as sa
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from pydantic import Field, field_validator
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from providers.base import IDENTIFIERS, Identity, ProviderConfig, ProviderUnavailable, text

Scheme = Literal["md5", "sha1", "sha256", "sm3", "bcrypt", "pbkdf2_sha256"]
_DIGESTS = {"md5": hashes.MD5, "sha1": hashes.SHA1, "sha256": hashes.SHA256, "sm3": hashes.SM3}
# Spent on an unknown username, so that the answer takes as long as for a known one.
_DUMMY_BCRYPT = b"$2b$12$C6UzMDM.H6dfI/f/IKxGhu7nZwPXQ35uLUIFsOp9.GCJi4SxwWy8."


class LegacySqlConfig(ProviderConfig):
    type: Literal["legacy_sql"] = "legacy_sql"
    url: str = Field(description="SQLAlchemy async URL of the department database.")
    table: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")
    scheme: Scheme
    salt_position: Literal["prefix", "suffix"] = Field(
        "prefix",
        description="md5/sha1/sha256/sm3: hash(salt + password) or hash(password + salt).",
    )
    encoding: Literal["hex", "base64"] = Field(
        "hex", description="md5/sha1/sha256/sm3: how the table writes the digest."
    )
    columns: dict[str, str] = Field(
        description="subject, username, password (and salt, name, phone, ...) -> column."
    )

    @field_validator("url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        for plain, driver in (
            ("postgresql://", "postgresql+asyncpg://"),
            ("sqlite://", "sqlite+aiosqlite://"),
        ):
            if value.startswith(plain):
                value = driver + value[len(plain) :]
        return _database_url(value)

    @field_validator("columns")
    @classmethod
    def _mapping(cls, value: dict[str, str]) -> dict[str, str]:
        missing = {"subject", "username", "password"} - set(value)
        if missing:
            raise ValueError(f"columns needs {sorted(missing)}")
        unknown = set(value) - {"subject", "username", "password", "salt", "name", *IDENTIFIERS}
        if unknown:
            raise ValueError(f"unknown columns {sorted(unknown)}")
        for field, column in value.items():
            try:
                text(column)
            except ValueError as error:
                raise ValueError(f"{field}: {error}") from None
        return value

    @field_validator("scheme")
    @classmethod
    def _library(cls, value: str) -> str:
        if value == "sm3":
            try:
                hashes.Hash(hashes.SM3())
            except UnsupportedAlgorithm:
                raise ValueError("sm3 needs a cryptography build whose OpenSSL has SM3") from None
        if value == "bcrypt":
            try:
                import bcrypt  # noqa: F401
            except ImportError:
                raise ValueError(
                    "bcrypt needs the legacy extra: pip install 'yihaotong[legacy]'"
                ) from None
        return value

    def open(self, provider_id: str) -> LegacySqlProvider:
        return LegacySqlProvider(provider_id, self)


def _database_url(value: str) -> str:
    """A URL SQLAlchemy can open asynchronously with an installed driver; a SQLite file must
    exist (connecting would create an empty one)."""
    try:
        url = make_url(value)
    except ArgumentError:
        raise ValueError("is not a database URL (dialect+driver://user:password@host/db)") from None
    try:
        dialect = url.get_dialect()
    except (NoSuchModuleError, ImportError) as error:
        raise ValueError(f"names a database driver that is not installed ({error})") from None
    if not getattr(dialect, "is_async", False):
        raise ValueError(f"{url.drivername} is not an async driver (e.g. postgresql+asyncpg)")
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if database in ("", ":memory:") or database.startswith("file:"):
            raise ValueError("must name an existing SQLite database file")
        if not Path(database).is_file() or not os.access(database, os.R_OK):
            raise ValueError(f"{database} is not a readable SQLite database file")
    elif not url.host and not url.query:
        raise ValueError("must name the database server's host")
    return value


def _digest(scheme: str, material: bytes) -> bytes:
    """MD5, SHA-1, SHA-256 or SM3 (GB/T 32905) of ``material``, by cryptography (OpenSSL)."""
    digest = hashes.Hash(_DIGESTS[scheme]())
    digest.update(material)
    return digest.finalize()


def _stored_digest(stored: str, encoding: str) -> bytes | None:
    try:
        if encoding == "base64":
            return base64.b64decode(stored.strip(), validate=True)
        return bytes.fromhex(stored.strip())
    except ValueError:
        return None


def check_password(
    scheme: str, password: str, stored: str, salt: str, position: str, encoding: str = "hex"
) -> bool:
    """Does ``password`` match the ``stored`` hash? Constant-time where it compares."""
    if scheme in _DIGESTS:
        material = salt + password if position == "prefix" else password + salt
        computed = _digest(scheme, material.encode())
        expected = _stored_digest(stored, encoding)
        return expected is not None and hmac.compare_digest(computed, expected)
    if scheme == "bcrypt":
        import bcrypt

        try:
            return bcrypt.checkpw(password.encode(), stored.encode())
        except ValueError:
            return False
    if scheme == "pbkdf2_sha256":  # Django's "pbkdf2_sha256$<iterations>$<salt>$<base64>"
        try:
            name, iterations, own_salt, encoded = stored.split("$", 3)
            expected = base64.b64decode(encoded)
            rounds = int(iterations)
        except ValueError:
            return False
        if name != "pbkdf2_sha256" or not 0 < rounds <= 10_000_000:
            return False
        computed = hashlib.pbkdf2_hmac("sha256", password.encode(), own_salt.encode(), rounds)
        return hmac.compare_digest(computed, expected)
    return False


def _dummy_check(scheme: str, password: str) -> None:
    if scheme == "bcrypt":
        import bcrypt

        bcrypt.checkpw(password.encode(), _DUMMY_BCRYPT)
    elif scheme == "pbkdf2_sha256":
        hashlib.pbkdf2_hmac("sha256", password.encode(), b"dummy-salt", 600_000)


class LegacySqlProvider:
    def __init__(self, provider_id: str, config: LegacySqlConfig) -> None:
        self.id = provider_id
        self.config = config
        self._engine: AsyncEngine | None = None
        schema, _, name = config.table.rpartition(".")
        self._table = sa.table(
            name, *(sa.column(c) for c in config.columns.values()), schema=schema or None
        )

    def _engine_for(self) -> AsyncEngine:
        if self._engine is None:
            self._engine = create_async_engine(self.config.url, pool_pre_ping=True)
        return self._engine

    async def _row(self, username: str) -> dict[str, Any] | None:
        columns = self.config.columns
        query = sa.select(*(self._table.c[c].label(f) for f, c in columns.items())).where(
            self._table.c[columns["username"]] == username
        )
        async with self._engine_for().connect() as connection:
            rows = (await connection.execute(query.limit(2))).mappings().all()
        return dict(rows[0]) if len(rows) == 1 else None

    async def login(self, username: str, password: str) -> Identity | None:
        if not username or not password:
            return None
        config = self.config
        try:
            row = await asyncio.wait_for(self._row(username), config.timeout_seconds)
        except (SQLAlchemyError, OSError, TimeoutError, ImportError) as error:
            raise ProviderUnavailable(
                config.name, f"user table unreachable ({type(error).__name__})"
            ) from error
        if row is None or not row.get("password"):
            await anyio.to_thread.run_sync(_dummy_check, config.scheme, password)
            return None
        matches = await anyio.to_thread.run_sync(
            check_password,
            config.scheme,
            password,
            str(row["password"]),
            str(row.get("salt") or ""),
            config.salt_position,
            config.encoding,
        )
        if not matches:
            return None
        fields = {
            f: (str(row[f]) if row.get(f) is not None else None)
            for f in ("username", "name", *IDENTIFIERS)
            if f in row
        }
        return Identity(
            provider_id=self.id,
            subject=str(row["subject"]),
            verified=frozenset(f for f in config.verified if fields.get(f)),
            migrate_password=True,
            **fields,
        )

    async def refresh(self, identity: Identity) -> bool:
        """Is the row still in the department's table?"""
        column = self._table.c[self.config.columns["subject"]]
        query = (
            sa.select(sa.func.count())
            .select_from(self._table)
            .where(sa.cast(column, sa.String) == identity.subject)
        )
        try:
            async with self._engine_for().connect() as connection:
                count = await asyncio.wait_for(
                    connection.scalar(query), self.config.timeout_seconds
                )
        except (SQLAlchemyError, OSError, TimeoutError, ImportError) as error:
            raise ProviderUnavailable(
                self.config.name, f"user table unreachable ({type(error).__name__})"
            ) from error
        return count == 1

    async def check(self) -> str:
        """Can the users table be read? A line saying how many rows it has."""
        query = sa.select(sa.func.count()).select_from(self._table)
        try:
            async with self._engine_for().connect() as connection:
                count = await asyncio.wait_for(
                    connection.scalar(query), self.config.timeout_seconds
                )
        except (SQLAlchemyError, OSError, TimeoutError, ImportError) as error:
            raise ProviderUnavailable(
                self.config.name, f"user table unreachable ({type(error).__name__})"
            ) from error
        return f"{count} users in {self.config.table}"

    async def aclose(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
