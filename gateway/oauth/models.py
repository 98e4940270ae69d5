"""The models Authlib's grants work on: the end user, the authorization code's record, the
client, the request over a parsed form, and what an endpoint loads for a grant before it runs."""

from __future__ import annotations

import functools
import hashlib
import logging
import re
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

import orjson
from authlib.oauth2.rfc6749 import (
    ClientMixin,
    InvalidClientError,
    OAuth2Request,
)
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc6749.util import list_to_scope, scope_to_list
from authlib.oidc.core import AuthorizationCodeMixin

from gateway.identity.access import ADMIN_SCOPES
from gateway.identity.claims import STANDARD_SCOPES
from gateway.identity.clients import secret_matches
from policies.redirect_uris import redirect_uri_matches
from store.records import Account, Client, RefreshToken, Resource

if TYPE_CHECKING:
    pass

MAX_AGE = re.compile(r"[0-9]{1,10}")  # str.isdigit() would let "²" through to int()
PROMPTS = {"none", "login", "consent", "select_account"}
RESPONSE_MODES = {"query", "form_post"}
CODE_TTL = 60  # seconds; RFC 9700 §4.5 wants codes short-lived
CODE_USED_TTL = 3600  # how long a redeemed code is remembered, to catch its reuse


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass
class EndUser:
    """The signed-in person as a grant sees them: the account and how it signed in."""

    account: Account
    subject: str
    auth_time: float
    amr: list[str]
    acr: str | None = None
    sid: str | None = None
    act_for: str | None = None  # the enterprise this person acts for, if any
    claims: dict[str, Any] = field(default_factory=dict)  # organisation claims for this app

    def get_user_id(self) -> str:
        return self.subject


@dataclass
class CodeRecord(AuthorizationCodeMixin):
    """An authorization code's grant, kept in the expiring store under the code's digest."""

    client_id: str
    redirect_uri: str | None
    scope: str
    account_id: str
    subject: str
    auth_time: float
    amr: list[str]
    acr: str | None = None
    sid: str | None = None
    nonce: str | None = None
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    claims: dict[str, Any] | None = None
    act_for: str | None = None
    extra_claims: dict[str, Any] | None = None  # organisation claims decided at authorization
    dpop_jkt: str | None = None  # the key the code is bound to (RFC 9449 §10)
    resource: str | None = None  # the API its tokens are for (RFC 8707)

    def get_redirect_uri(self) -> str | None:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return int(self.auth_time)

    def get_acr(self) -> str | None:
        return self.acr

    def get_amr(self) -> list[str]:
        return self.amr

    def to_bytes(self) -> bytes:
        # Field by field: dataclasses.asdict deep-copies the claims on the way to JSON.
        return orjson.dumps({name: getattr(self, name) for name in _CODE_FIELDS})

    @classmethod
    def from_bytes(cls, raw: bytes) -> CodeRecord:
        return cls(**orjson.loads(raw))


_CODE_FIELDS = [f.name for f in fields(CodeRecord)]


class RefreshView:
    """Authlib's view of a stored refresh token."""

    def __init__(self, record: RefreshToken, scope: str) -> None:
        self.record = record
        self.scope = scope  # what the client may still have of what was granted

    def check_client(self, client: OAuthClient) -> bool:
        return client.get_client_id() == self.record.client_id

    def get_scope(self) -> str:
        return self.scope


@dataclass(frozen=True)
class CodeClaim:
    """A code this request took from the expiring store, as it was kept there: enough to put
    it back if the request fails before it issues anything."""

    key: str
    owner: str
    value: bytes
    deadline: float  # when the code would have expired, by the services' clock


@dataclass
class GrantContext:
    """What one request loaded for Authlib before it runs, and the writes it owes after."""

    clients: dict[str, Client | None] = field(default_factory=dict)
    code: CodeRecord | None = None
    code_digest: str | None = None
    code_claim: CodeClaim | None = None
    issued: bool = False  # a token of this request was stored: its credential stays spent
    refresh: RefreshToken | None = None
    account: Account | None = None
    org_claims: dict[str, Any] | None = None  # recomputed for a refresh
    phone: str | None = None  # the account's verified phone, read when the scope reaches it
    access_jti: str | None = None
    family_id: str | None = None  # of the refresh token issued, if any
    device: Any = None  # the device authorization read for a poll (gateway/oauth/device_codes)
    device_digest: str | None = None
    device_too_fast: bool = False  # polled sooner than its interval allows: slow_down
    dpop_jkt: str | None = None  # the thumbprint of a verified DPoP proof's key (RFC 9449)
    resources: dict[str, Resource] = field(default_factory=dict)  # when the request names one
    resource: Resource | None = None  # the API the access token is for (RFC 8707)
    subject_claims: dict[str, Any] | None = None  # an exchanged token's (RFC 8693)
    exchange_claims: dict[str, Any] | None = None  # what the exchanged-for token says
    ended_sid: str | None = None  # a session found over: its apps are told after the answer
    finally_writes: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    writes: list[Callable[[], Awaitable[None]]] = field(default_factory=list)


grant_context: ContextVar[GrantContext] = ContextVar("grant_context")


# Authlib logs issued tokens at DEBUG ("Issue token %r"): never let them reach a log.
logging.getLogger("authlib").setLevel(logging.WARNING)
# RFC 7617 §2 makes the realm mandatory in a Basic challenge.
BASIC_CHALLENGE = 'Basic realm="yihaotong", charset="UTF-8"'


class FormRequest(OAuth2Request):
    """An OAuth2Request over an already-parsed form, and the Basic credentials the endpoint has
    parsed already (``gateway.endpoints.token.basic_credentials``). Transport security is the
    issuer's job (a non-https issuer is warned about at start), so Authlib's per-request URL
    check is skipped."""

    def __init__(
        self,
        method: str,
        uri: str,
        form: dict[str, str],
        headers: Any,
        args: dict[str, str],
        basic: tuple[str, str] | None = None,
    ) -> None:
        self.basic = basic
        self.method = method
        self.uri = uri
        self.headers = headers
        self._body = None
        self._form = form
        self._args = args
        self.payload = BasicOAuth2Payload(form if method == "POST" else args)
        self.client = None
        self.auth_method = None
        self.user = None
        self.authorization_code = None
        self.refresh_token = None
        self.credential = None
        self._scope = None

    @property
    def form(self) -> dict[str, str]:
        return self._form

    @property
    def args(self) -> dict[str, str]:
        return self._args


class OAuthClient(ClientMixin):
    """Authlib's view of a stored client."""

    def __init__(self, record: Client) -> None:
        self.record = record

    def get_client_id(self) -> str:
        return self.record.client_id

    def get_default_redirect_uri(self) -> str | None:
        uris = self.record.redirect_uris
        return uris[0] if len(uris) == 1 else None

    def get_allowed_scope(self, scope: str) -> str:
        """Requested scopes this client may have (OIDC's standard ones and its own); others
        are dropped, and the token response names what was granted (RFC 6749 §3.3)."""
        allowed = _allowed_scopes(self.record.scopes, self.record.admin_console)
        granted = [s for s in dict.fromkeys(scope_to_list(scope) or []) if s in allowed]
        return list_to_scope(granted) or ""

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri_matches(
            redirect_uri, self.record.redirect_uris, native=self.record.public
        )

    def check_client_secret(self, client_secret: str) -> bool:
        return secret_matches(self.record, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.record.public:
            return method == "none"
        pinned = self.record.token_endpoint_auth_method
        if pinned:
            return method == pinned
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in self.record.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.record.grant_types


@functools.lru_cache(maxsize=1024)
def _allowed_scopes(scopes: tuple[str, ...], admin_console: bool) -> frozenset[str]:
    """A client's own scopes and OIDC's standard ones (the same for every request of it)."""
    allowed = set(scopes) | set(STANDARD_SCOPES)
    if not admin_console:
        allowed -= set(ADMIN_SCOPES)  # useless elsewhere: the admin API would refuse them
    return frozenset(allowed)


def client_secret_basic(
    query_client: Callable[[str], OAuthClient | None], request: FormRequest
) -> OAuthClient | None:
    """Authlib's ``client_secret_basic`` on the credentials the endpoint parsed, rather than
    decoding the header again (and formatting two debug messages that are never written)."""
    if not request.basic or not all(request.basic):
        return None
    client_id, secret = request.basic
    client = query_client(client_id)
    if client is None:
        raise InvalidClientError(
            status_code=401, description="The client does not exist on this server."
        )
    return client if client.check_client_secret(secret) else None
