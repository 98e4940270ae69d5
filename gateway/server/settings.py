"""The gateway's configuration: one frozen object read from ``YIHAOTONG_*`` variables."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from gateway.server.mail_settings import MailSettings
from gateway.server.metrics_settings import MetricsSettings
from gateway.server.mobile_settings import MobileSettings
from gateway.server.place_settings import PlaceSettings
from gateway.server.real_name_settings import RealNameSettings
from gateway.server.sms_settings import SmsSettings
from gateway.server.tracing_settings import TracingSettings
from keys.ring import RELOAD_SECONDS as KEY_RING_RELOAD_SECONDS

SUPPORTED_SIGNING_ALGS = ("RS256", "ES256", "EdDSA")


class Settings(
    SmsSettings,
    RealNameSettings,
    MobileSettings,
    PlaceSettings,
    MailSettings,
    MetricsSettings,
    TracingSettings,
):
    """Every setting has a safe-to-run default for a developer's machine; ``unsafe_defaults`` names
    the ones that must change before production."""

    model_config = SettingsConfigDict(env_prefix="YIHAOTONG_", frozen=True, extra="ignore")

    issuer: str = Field(
        "http://localhost:8000",
        description="Public base URL; `iss` of every token and the base of every URL in the "
        "discovery document. An absolute http(s) URL without query or fragment. An https issuer "
        "also makes the cookies `__Host-` and `Secure`.",
    )
    data_dir: Path = Field(
        Path("./var"),
        description="Where the SQLite file and master key live (relative to the working "
        "directory).",
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy async URL; unset: SQLite in `DATA_DIR` (`yihaotong.db`). "
        "`postgresql://…` and `postgres://…` use the asyncpg driver.",
    )
    database_pool_size: int = Field(
        20,
        ge=1,
        le=500,
        description="PostgreSQL connections each worker keeps open; a burst waits for one of "
        "them. Three quarters go to the single statements of the token path (asyncpg's pool), "
        "a quarter, at least one, to transactions (SQLAlchemy's), so a worker opens at least "
        "two. Workers × instances × this (plus one listening connection per worker) must stay "
        "under the server's `max_connections`.",
    )
    redis_url: str | None = Field(
        None,
        description="Redis URL; unset: in-process store (one process only). `redis://…` / "
        "`rediss://…`: one server; `redis+sentinel://[user:password@]host:26379,…/SERVICE[/DB]`: "
        "the master Sentinel names; `redis+cluster://[user:password@]host:6379,…`: Redis "
        "Cluster. See [scaling.md](scaling.md#the-redis-url).",
    )
    redis_prefix: str = Field(
        "yht:",
        description="Prefix of every Redis key this gateway writes (no `{}` on a cluster: it "
        "would put every key in one slot).",
    )
    master_key_file: Path | None = Field(
        None, description="Master key (encrypts private keys); unset: `DATA_DIR/master.key`."
    )
    signing_algs: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["RS256"],
        description="Comma-separated signing algorithms (`RS256`, `ES256`, `EdDSA`); the first "
        "signs access tokens. ID and logout tokens use RS256 when it is listed.",
    )
    access_token_ttl: int = Field(600, gt=0, le=86400, description="Access token lifetime, s.")
    id_token_ttl: int = Field(600, gt=0, le=86400, description="ID token lifetime, s.")
    refresh_token_ttl: int = Field(
        2_592_000,
        gt=0,
        description="An `offline_access` refresh token expires this long after its last use, s "
        "(30 days).",
    )
    dpop_proof_max_age: int = Field(
        300,
        ge=10,
        le=3600,
        description="A DPoP proof is accepted this long after its `iat` (RFC 9449 §11.1), s; its "
        "`jti` is remembered as long to refuse a replay.",
    )
    dpop_nonce_required: bool = Field(
        False,
        description="DPoP proofs must carry a nonce from this server (`use_dpop_nonce`, RFC "
        "9449 §8 and §9), which bounds a stolen proof's life to the nonce's five to ten minutes.",
    )
    par_lifetime: int = Field(
        60,
        ge=5,
        le=600,
        description="How long a pushed authorization request's `request_uri` lives (RFC 9126 "
        "§2.2), s; it is used once.",
    )
    require_pushed_authorization_requests: bool = Field(
        False,
        description="Every authorization request must come through the pushed authorization "
        "request endpoint (RFC 9126 §5), for every client.",
    )
    session_idle_seconds: int = Field(
        1800, gt=0, description="An SSO session ends after this long without use, s."
    )
    session_max_seconds: int = Field(
        36000,
        gt=0,
        description="An SSO session ends this long after sign-in, whatever its use, s; also the "
        "lifetime of a refresh token without `offline_access`.",
    )
    console_idle_seconds: int = Field(
        900,
        gt=0,
        le=86400,
        description="The admin console signs its administrator out after this long without a "
        "page, s.",
    )
    cas_ticket_ttl: int = Field(
        10,
        gt=0,
        le=300,
        description="How long a CAS service or proxy ticket may wait for its validation, s "
        "(single-use either way; CAS 3.0 §3.1 recommends at most 5 minutes).",
    )
    device_cookie_days: int = Field(
        180,
        ge=0,
        le=3650,
        description="How long a browser's device cookie lets it pass a sign-in name locked by "
        "others' failed guesses, days; `0` turns device cookies off.",
    )
    key_rotation_days: float = Field(
        90, ge=0, description="Rotate signing keys this often; `0` turns automatic rotation off."
    )
    key_ring_reload_seconds: float = Field(
        KEY_RING_RELOAD_SECONDS,
        gt=0,
        le=KEY_RING_RELOAD_SECONDS,
        description="How often an instance reloads the signing keys from the database, to pick "
        "up another instance's rotation (and rotates when a key's period is over), s. At most "
        "the default: a retired key stays usable for that long plus clock skew.",
    )
    jwks_max_age: int = Field(
        300,
        ge=0,
        description="Cache lifetime of the JWKS, s; a next key is published this long "
        "before it may sign.",
    )
    client_cache_seconds: float = Field(
        30,
        ge=0,
        description="How long an instance caches a client record and its policy document, s.",
    )
    account_cache_seconds: float = Field(
        60,
        ge=0,
        description="PostgreSQL only: how long an instance may keep an account in memory for "
        "UserInfo and the token grants, and its roles, groups and departments for the "
        "authorization endpoint and refresh, s. It forgets them as soon as PostgreSQL reports "
        "a change (by any instance, the CLI or plain SQL), and keeps nothing while it "
        "cannot hear those reports; `0` turns this off (needed behind PgBouncer in transaction "
        "mode, where LISTEN does not work).",
    )
    argon2_memory_kib: int = Field(19456, ge=8, description="argon2id memory cost, KiB.")
    argon2_time_cost: int = Field(2, ge=1, description="argon2id iterations.")
    argon2_parallelism: int = Field(1, ge=1, description="argon2id lanes.")
    max_form_bytes: int = Field(
        16384, ge=1024, description="Largest form body the endpoints and pages read, bytes."
    )
    time_zone: str = Field(
        "Asia/Shanghai",
        description="The IANA time zone the person-facing pages show times in (sessions, "
        "passkeys, the account centre).",
    )
    log_level: str = Field("INFO", description="`DEBUG`, `INFO`, `WARNING` or `ERROR`.")
    forwarded_allow_ips: str = Field(
        "127.0.0.1",
        description="Comma-separated addresses of the reverse proxies whose `X-Forwarded-*` "
        "headers are trusted.",
    )

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError("use DEBUG, INFO, WARNING or ERROR")
        return value.upper()

    @field_validator("time_zone")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError("use an IANA time zone name, e.g. Asia/Shanghai") from error
        return value

    @field_validator("issuer")
    @classmethod
    def _issuer_is_a_base_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("issuer must be an absolute http(s) URL")
        if parts.query or parts.fragment:
            raise ValueError("issuer must not have a query or fragment (OIDC Discovery §3)")
        return value.rstrip("/")

    @field_validator("signing_algs", mode="before")
    @classmethod
    def _split_algs(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("signing_algs")
    @classmethod
    def _known_algs(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one signing algorithm is needed")
        unknown = [alg for alg in value if alg not in SUPPORTED_SIGNING_ALGS]
        if unknown:
            raise ValueError(
                f"unsupported signing algorithms {unknown}; use {SUPPORTED_SIGNING_ALGS}"
            )
        if len(set(value)) != len(value):
            raise ValueError("signing algorithms are listed twice")
        return value

    @cached_property
    def resolved_database_url(self) -> str:
        return (
            self.database_url or f"sqlite+aiosqlite:///{self.data_dir.resolve() / 'yihaotong.db'}"
        )

    @cached_property
    def resolved_master_key_file(self) -> Path:
        return self.master_key_file or self.data_dir / "master.key"

    @property
    def default_signing_alg(self) -> str:
        return self.signing_algs[0]

    @property
    def longest_token_ttl(self) -> int:
        """How long a retired signing key must stay published."""
        return max(self.access_token_ttl, self.id_token_ttl)

    def unsafe_defaults(self, workers: int = 1) -> list[str]:
        """Human-readable warnings for each development default still in force."""
        warnings = []
        parts = urlsplit(self.issuer)
        if parts.scheme != "https":
            warnings.append(
                f"issuer {self.issuer} is not https: browsers and apps will send codes and tokens "
                "in clear text (set YIHAOTONG_ISSUER to the public https URL)"
            )
        if self.resolved_database_url.startswith("sqlite"):
            warnings.append(
                "SQLite is the database: fine for one machine, not for production "
                "(set YIHAOTONG_DATABASE_URL to PostgreSQL)"
            )
        if self.redis_url is None and workers > 1:
            warnings.append(
                f"the in-process store cannot be shared by {workers} workers: sessions, codes and "
                "lockout counters will differ between them (set YIHAOTONG_REDIS_URL)"
            )
        if self.sms_backend == "log":
            warnings.append(
                "SMS codes are written to the log and DATA_DIR/sms-outbox.jsonl, not sent "
                "(set YIHAOTONG_SMS_BACKEND, see docs/sms.md)"
            )
        if self.real_name_backend == "dev":
            warnings.append(
                "real-name checks pass the people of a public fixture list, and nobody else "
                "(set YIHAOTONG_REAL_NAME_BACKEND, see docs/real-name.md)"
            )
        return warnings
