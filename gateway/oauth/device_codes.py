"""The device authorization grant (RFC 8628) as Authlib's endpoint and grant, over one record
per device code in the expiring store.

The record (``kv_keys.device_code``) is pending until the person allows or refuses at
``/device``; a poll reads it and, once allowed, takes it (single use, §3.5). Its expiry ledger
entry leaves with that take or with a refusal; polls never touch it. Polling faster than
the interval gets ``slow_down`` (§3.5), on every instance alike: the pace lives in the expiring
store, marked in the same round trip that reads the record."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field, fields
from typing import Any

import orjson
from authlib.oauth2.rfc6749 import OAuth2Error, UnauthorizedClientError
from authlib.oauth2.rfc8628 import (
    AuthorizationPendingError,
    DeviceAuthorizationEndpoint,
    DeviceCodeGrant,
    DeviceCredentialMixin,
    SlowDownError,
)
from starlette.responses import Response

from gateway.identity import expiry_sweep
from gateway.oauth.models import EndUser, GrantContext, OAuthClient, digest, grant_context
from gateway.oauth.prefetch import verified_phone
from gateway.server.responses import oauth_error
from gateway.server.services import Services
from policies.clients import DEVICE_CODE
from store import kv_keys
from store.clock import Clock
from store.kv import ExpiringStore

VERIFICATION_PATH = "/device"
GRACE_SECONDS = 300  # a record outlives its code this long, to answer expired_token (§3.5)
USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"  # RFC 8628 §6.1: no vowels, no look-alikes
_NOT_IN_ALPHABET = re.compile(f"[^{USER_CODE_ALPHABET}]")
PENDING, ALLOWED, REFUSED = "pending", "allowed", "refused"


def normalise_user_code(typed: str) -> str | None:
    """The user code as stored (8 letters, no dash), from what a person typed: any case,
    spaces and dashes ignored (§6.1). None when it cannot be one."""
    letters = re.sub(r"[\s\-]", "", typed.upper())[:32]
    if len(letters) != 8 or _NOT_IN_ALPHABET.search(letters):
        return None
    return letters


def shown_user_code(letters: str) -> str:
    return f"{letters[:4]}-{letters[4:]}"


@dataclass
class DeviceRecord:
    """A device authorization: what the device asked for, and the person's answer."""

    client_id: str
    scope: str
    user_code: str
    expires_at: float
    status: str = PENDING
    account_id: str | None = None
    subject: str | None = None
    auth_time: float | None = None
    amr: list[str] = field(default_factory=list)
    acr: str | None = None
    claims: dict[str, Any] = field(default_factory=dict)  # organisation claims for this app

    def to_bytes(self) -> bytes:
        return orjson.dumps({name: getattr(self, name) for name in _FIELDS})

    @classmethod
    def from_bytes(cls, raw: bytes) -> DeviceRecord:
        return cls(**orjson.loads(raw))


_FIELDS = [f.name for f in fields(DeviceRecord)]


class DeviceCredential(DeviceCredentialMixin):
    """Authlib's view of a record, expiring by the services' clock; it also answers the ID
    token's questions as an authorization code would (auth_time, acr, amr)."""

    def __init__(self, record: DeviceRecord, clock: Clock) -> None:
        self.record, self._clock = record, clock

    def get_client_id(self) -> str:
        return self.record.client_id

    def get_scope(self) -> str:
        return self.record.scope

    def get_user_code(self) -> str:
        return self.record.user_code

    def is_expired(self) -> bool:
        return self.record.expires_at <= self._clock.now()

    def get_nonce(self) -> None:
        return None

    def get_auth_time(self) -> int | None:
        return int(self.record.auth_time) if self.record.auth_time else None

    def get_acr(self) -> str | None:
        return self.record.acr

    def get_amr(self) -> list[str]:
        return self.record.amr


class DevicePace:
    """How fast each device code is polled (§3.5), kept in the expiring store so that every
    instance sees it: a mark living one interval after each answered poll, and the interval,
    raised by 5 s at each ``slow_down`` and kept while the code lives. A poll sets the mark as
    it reads the record (one round trip); only a device slowed down before costs a second."""

    def __init__(self, interval: int) -> None:
        self.interval = interval

    @staticmethod
    def keys(code_digest: str) -> tuple[str, str]:
        return kv_keys.device_polled(code_digest), kv_keys.device_interval(code_digest)

    async def mark_and_read(
        self, store: ExpiringStore, code_digest: str
    ) -> tuple[bool, bytes | None, bytes | None]:
        """Marks this poll (unless a mark lives), and reads the record and a raised interval:
        (whether this call set the mark, the record, the raised interval)."""
        polled_key, interval_key = self.keys(code_digest)
        record_key = kv_keys.device_code(code_digest)
        marked, (raw, raised) = await store.add_and_get(
            polled_key, b"1", self.interval, record_key, interval_key
        )
        return marked, raw, raised

    async def too_fast(
        self,
        store: ExpiringStore,
        code_digest: str,
        marked: bool,
        raised: bytes | None,
        left: float,
    ) -> bool:
        """``marked``: this poll set the mark (none lived); ``raised``: the interval as read;
        ``left``: the code's remaining life. Whether this poll came too soon."""
        polled_key, interval_key = self.keys(code_digest)
        interval = int(raised) if raised and raised.isdigit() else self.interval
        if marked:
            if interval != self.interval:  # the mark lives the raised interval, not the first
                await store.put(polled_key, b"1", interval)
            return False
        interval += 5
        await store.put_many(
            (polled_key, b"1", interval), (interval_key, str(interval).encode(), max(left, 1.0))
        )
        return True


class DeviceAuthorization(DeviceAuthorizationEndpoint):
    """RFC 8628 §3.1-3.2: the device authorization endpoint, for clients registered for the
    grant; the scope narrowed to what the client may have."""

    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]  # noqa: RUF012

    def __init__(self, server: Any) -> None:
        super().__init__(server)
        settings = server.services.settings
        self.EXPIRES_IN = settings.device_code_ttl
        self.INTERVAL = settings.device_poll_interval
        self._verification_uri = settings.issuer + VERIFICATION_PATH

    def authenticate_client(self, request: Any) -> OAuthClient:
        client: OAuthClient = super().authenticate_client(request)
        if not client.check_grant_type(DEVICE_CODE):
            raise UnauthorizedClientError("The client is not registered for the device grant.")
        return client

    def generate_device_code(self) -> str:
        return secrets.token_urlsafe(32)

    def generate_user_code(self) -> str:
        letters = "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(8))
        return shown_user_code(letters)

    def get_verification_uri(self) -> str:
        return self._verification_uri

    def save_device_credential(self, client_id: str, scope: str | None, data: dict) -> None:
        services: Services = self.server.services
        client = grant_context.get().clients[client_id]
        assert client is not None
        letters = data["user_code"].replace("-", "")
        record = DeviceRecord(
            client_id=client_id,
            scope=OAuthClient(client).get_allowed_scope(scope or ""),
            user_code=letters,
            expires_at=services.clock.now() + self.EXPIRES_IN,
        )
        code_digest = digest(data["device_code"])
        ttl = self.EXPIRES_IN + GRACE_SECONDS

        async def keep() -> None:
            if not await services.expiring.add(
                kv_keys.device_user_code(letters), code_digest.encode(), self.EXPIRES_IN
            ):
                # Two live user codes alike (1 in 2.5e10 per pair): this device asks again.
                raise OAuth2Error("temporarily_unavailable", "Try again.", status_code=503)
            await services.expiring.put(
                kv_keys.device_code(code_digest),
                record.to_bytes(),
                ttl,
                expiry_sweep.DEVICE_CODE,
                self.EXPIRES_IN,
            )

        grant_context.get().writes.append(keep)


class DeviceGrant(DeviceCodeGrant):
    """RFC 8628 §3.4-3.5 on the record the token endpoint read before Authlib ran."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]  # noqa: RUF012

    def validate_token_request(self) -> None:
        super().validate_token_request()
        # The ID token takes auth_time, acr and amr from it, as from an authorization code.
        self.request.authorization_code = self.request.credential

    def query_device_credential(self, device_code: str) -> DeviceCredential | None:
        context = grant_context.get()
        record = context.device
        if record is None or context.device_digest != digest(device_code):
            return None
        return DeviceCredential(record, self.server.services.clock)

    def query_user_grant(self, user_code: str) -> tuple[EndUser | None, bool] | None:
        context = grant_context.get()
        record: DeviceRecord | None = context.device
        if record is None or record.status == PENDING:
            return None
        if record.status == REFUSED or context.account is None:
            return None, False
        end_user = EndUser(
            account=context.account,
            subject=record.subject or context.account.id,
            auth_time=record.auth_time or 0.0,
            amr=record.amr,
            acr=record.acr,
            claims=record.claims,
        )
        return end_user, True

    def should_slow_down(self, credential: DeviceCredential) -> bool:
        return grant_context.get().device_too_fast


def _invalid_code() -> Response:
    return oauth_error("invalid_grant", "The device code is invalid, expired or used.")


async def prefetch_device_code(
    services: Services,
    pace: DevicePace,
    device_code: str,
    client_id: str | None,
    context: GrantContext,
) -> Response | None:
    """Read the record, marking the poll (one round trip while pending); take it once allowed,
    so only one poll of its own client gets the tokens. A response when the request is refused
    already."""
    code_digest = digest(device_code)
    marked, raw, raised = await pace.mark_and_read(services.expiring, code_digest)
    if raw is None:
        return _invalid_code()
    record = DeviceRecord.from_bytes(raw)
    if record.client_id != client_id:
        if marked:  # another client's code: left as it was
            await services.expiring.delete(pace.keys(code_digest)[0])
        return _invalid_code()
    now = services.clock.now()
    if record.status == PENDING and record.expires_at > now:
        context.device_too_fast = await pace.too_fast(
            services.expiring, code_digest, marked, raised, record.expires_at - now
        )
    elif record.status == ALLOWED and record.expires_at > now:
        taken = await services.expiring.take(
            kv_keys.device_code(code_digest), expiry_sweep.DEVICE_CODE
        )
        if taken is None:
            return _invalid_code()  # another poll took it a moment ago
        context.account = await services.accounts.current(record.account_id or "")
        if context.account is None or context.account.disabled:
            return oauth_error("invalid_grant", "The account of this device code is not available.")
        context.phone = await verified_phone(services, context.account.id, record.scope)
    context.device, context.device_digest = record, code_digest
    return None


def still_waiting(context: GrantContext, clock: Clock) -> OAuth2Error | None:
    """The answer to a poll of a live code the person has not yet answered (§3.5): the grant
    would refuse it the same way, so the token endpoint sends it without running the grant."""
    record: DeviceRecord | None = context.device
    if record is None or record.status != PENDING or record.expires_at <= clock.now():
        return None
    return SlowDownError() if context.device_too_fast else AuthorizationPendingError()
