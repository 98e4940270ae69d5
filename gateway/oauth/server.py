"""The only Authlib glue: the request adapter, the client model, the authorization server and
its grants.

Authlib's server is synchronous. Endpoints load what a grant will need asynchronously first
(``grant_context``), run Authlib inline on the event loop — its hooks only read what was
prefetched — and write afterwards. Running it in threads costs more than it saves.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

import orjson
from authlib.oauth2 import AuthorizationServer as _AuthlibServer
from authlib.oauth2.rfc6749 import (
    ClientMixin,
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Error,
    OAuth2Request,
    grants,
)
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc6749.util import list_to_scope, scope_to_list
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7636.challenge import CODE_VERIFIER_PATTERN
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator
from authlib.oauth2.rfc9207 import IssuerParameter
from authlib.oidc.core import AuthorizationCodeMixin
from authlib.oidc.core.grants import OpenIDCode
from authlib.oidc.core.grants.util import create_half_hash
from starlette.responses import Response

from gateway.identity.access import ADMIN_SCOPES, PRIVILEGED_SCOPES
from gateway.identity.claims import STANDARD_SCOPES, user_claims
from gateway.identity.clients import secret_matches
from gateway.oauth.access_tokens import mint_opaque, seal
from gateway.oauth.revocations import revoke_access_token, revoke_family
from gateway.server.json_body import JsonBodyError, parse_json
from gateway.server.responses import description_text, oauth_error_fields
from gateway.server.settings import Settings
from keys.ring import KeyRing
from policies.clients import OPAQUE
from policies.redirect_uris import redirect_uri_matches
from store import kv_keys
from store.clock import Clock
from store.kv import ExpiringStore
from store.records import Account, AuditEvent, Client, RefreshToken

if TYPE_CHECKING:
    from gateway.server.services import Services

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
        return json.dumps({name: getattr(self, name) for name in _CODE_FIELDS}).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> CodeRecord:
        return cls(**json.loads(raw))


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
    access_jti: str | None = None
    family_id: str | None = None  # of the refresh token issued, if any
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
        allowed = set(self.record.scopes) | set(STANDARD_SCOPES)
        if not self.record.admin_console:
            allowed -= set(ADMIN_SCOPES)  # useless elsewhere: the admin API would refuse them
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


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    """RFC 6749 §4.4. Scopes: only those registered for the client; none requested means all of
    them (RFC 6749 §3.3 lets the server pick a default)."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]  # noqa: RUF012

    def validate_requested_scope(self) -> None:
        client: OAuthClient = self.request.client
        requested = scope_to_list(self.request.payload.scope) or []
        # Privileged scopes act for a person, so a client acting for itself never gets them.
        allowed = [scope for scope in client.record.scopes if scope not in PRIVILEGED_SCOPES]
        if not requested:
            self.request.scope = list_to_scope(allowed) or ""
            return
        unknown = [scope for scope in requested if scope not in allowed]
        if unknown:
            # The scopes are not quoted back: Authlib refuses non-ASCII error text.
            raise InvalidScopeError("The client may not request one of these scopes.")
        self.request.scope = list_to_scope(list(dict.fromkeys(requested)))

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        token = self.generate_token(scope=self.request.scope or None, include_refresh_token=False)
        self.save_token(token)
        return 200, token, self.TOKEN_RESPONSE_HEADER


class AccessTokenGenerator(JWTBearerTokenGenerator):
    """RFC 9068 JWT access tokens, signed through the key ring (kid in the header, any of its
    algorithms); Authlib's hooks decide audience, jti and extra claims. For a client whose
    access_token_format is opaque, the same claims are kept in the expiring store under a
    random reference instead (see gateway.oauth.access_tokens), written before the answer goes
    out."""

    def __init__(
        self, settings: Settings, keys: KeyRing, clock: Clock, expiring: ExpiringStore
    ) -> None:
        super().__init__(
            issuer=settings.issuer,
            alg=keys.default_alg,
            expires_generator=lambda client, grant_type: settings.access_token_ttl,
        )
        self._keys = keys
        self._clock = clock
        self._expiring = expiring

    def get_jti(self, client: OAuthClient, grant_type: str, user: Any, scope: str) -> str:
        return secrets.token_urlsafe(16)

    def access_token_generator(
        self, client: OAuthClient, grant_type: str, user: Any, scope: str | None
    ) -> str:
        now = int(self._clock.now())
        client_id = client.get_client_id()
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": str(user.get_user_id()) if user else client_id,
            "aud": self.get_audiences(client, user, scope),
            "client_id": client_id,
            "iat": now,
            "exp": now + self._get_expires_in(client, grant_type),
            "jti": self.get_jti(client, grant_type, user, scope or ""),
        }
        if scope:
            claims["scope"] = scope
        if isinstance(user, EndUser):
            claims["auth_time"] = int(user.auth_time)
            if user.acr:
                claims["acr"] = user.acr
            if user.sid:
                claims["sid"] = user.sid
            claims.update({k: v for k, v in user.claims.items() if k not in claims})
        claims.update(self.get_extra_claims(client, grant_type, user, scope))
        context = grant_context.get(None)
        if client.record.access_token_format == OPAQUE:
            if context is None:
                raise RuntimeError("an opaque access token needs a grant context to be stored")
            token, claims["jti"] = mint_opaque(claims.get("sid"))
            record, ttl = seal(token, claims["jti"], claims), claims["exp"] - now

            async def keep() -> None:
                await self._expiring.put(kv_keys.opaque_access_token(claims["jti"]), record, ttl)

            # First of the writes: if it fails, nothing else was written (the refresh token is
            # not rotated yet); and a reuse found by a later write revokes this jti.
            context.writes.insert(0, keep)
            context.access_jti = claims["jti"]
            return token
        if context is not None:
            context.access_jti = claims["jti"]
        return self._keys.sign(claims, self.alg, typ="at+jwt")


def _check_request(grant: Any, result: Any) -> None:
    """Checks Authlib leaves to us, run as its hook once the client and redirect URI are
    known (so failures go back to the client)."""
    data = grant.request.payload.data
    if data.get("response_mode") and data["response_mode"] not in RESPONSE_MODES:
        raise InvalidRequestError("response_mode must be query or form_post.")
    # (Authlib hands its hooks the hooked function's result, not the redirect URI.)
    target = data.get("redirect_uri") or grant.request.client.get_default_redirect_uri() or ""
    if data.get("response_mode") == "form_post" and not target.startswith(("https://", "http://")):
        raise InvalidRequestError("form_post needs an http or https redirect URI.")
    if "request" in data:
        raise OAuth2Error(
            error="request_not_supported", description="Request objects are not supported."
        )
    if "request_uri" in data:
        raise OAuth2Error(
            error="request_uri_not_supported", description="request_uri is not supported."
        )
    prompts = set((data.get("prompt") or "").split())
    if prompts - PROMPTS:
        raise InvalidRequestError("Unsupported prompt value.")
    if "none" in prompts and len(prompts) > 1:
        raise InvalidRequestError("prompt=none cannot be combined with other values.")
    max_age = data.get("max_age")
    if max_age is not None and not MAX_AGE.fullmatch(max_age):
        raise InvalidRequestError("max_age must be a non-negative integer.")
    request_claims = _claims_request(data.get("claims"))
    if "openid" in (scope_to_list(data.get("scope")) or []) and not data.get("redirect_uri"):
        raise InvalidRequestError("redirect_uri is required with scope openid (OIDC Core 3.1.2.1).")
    grant.request.claims_request = request_claims


def _claims_request(raw: str | None) -> dict[str, dict[str, Any]] | None:
    """A ``claims`` request (OIDC Core §5.5) cut down to what is used: the claim names of each
    part, and a requested ``sub`` value. Nothing deeper is kept (or ever serialised again)."""
    if not raw:
        return None
    try:
        parsed = parse_json(raw)
    except JsonBodyError:
        raise InvalidRequestError("claims: not JSON within the size and depth limits.") from None
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict) or not all(
        isinstance(parsed.get(part), dict | None) for part in ("id_token", "userinfo")
    ):
        raise InvalidRequestError("claims must be a JSON object (OIDC Core 5.5).")
    kept: dict[str, dict[str, Any]] = {}
    for part in ("id_token", "userinfo"):
        section = parsed.get(part) or {}
        kept[part] = {str(name)[:64]: None for name in list(section)[:64]}
        wanted = section.get("sub")
        if isinstance(wanted, dict) and isinstance(wanted.get("value"), str):
            kept[part]["sub"] = {"value": wanted["value"][:256]}
    return kept


class RequestChecks:
    """The authorization request checks Authlib leaves to us, run once the client and redirect
    URI are known, so that failures go back to the client."""

    def __call__(self, grant: Any) -> None:
        grant.register_hook("after_validate_authorization_request_payload", _check_request)


class PKCE(CodeChallenge):
    """RFC 7636 with S256 only (RFC 9700 §2.1.1), required from public clients at the
    authorization endpoint already, and a code_verifier without a challenge refused (§4.8.2).
    For a code issued with a challenge, a verifier that is missing or malformed fails the
    check as a wrong one does: ``invalid_grant`` (RFC 7636 §4.6)."""

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]  # noqa: RUF012

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        super().validate_code_challenge(grant, redirect_uri)
        data = grant.request.payload.data
        if grant.request.client.record.public and not data.get("code_challenge"):
            raise InvalidRequestError("Public clients must use PKCE (code_challenge, S256).")
        if data.get("code_challenge") and data.get("code_challenge_method", "plain") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256.")

    def validate_code_verifier(self, grant: Any, result: Any) -> None:
        challenge = self.get_authorization_code_challenge(grant.request.authorization_code)
        verifier = grant.request.form.get("code_verifier")
        if challenge and not (verifier and CODE_VERIFIER_PATTERN.fullmatch(verifier)):
            raise InvalidGrantError("The code_verifier does not match the code_challenge.")
        super().validate_code_verifier(grant, result)


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]  # noqa: RUF012

    def generate_authorization_code(self) -> str:
        # 256 bits from the OS in one call, like every other credential here; Authlib's default
        # draws 48 characters one by one through random.SystemRandom, a system call each.
        return secrets.token_urlsafe(32)

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        user: EndUser = request.user
        data = request.payload.data
        record = CodeRecord(
            client_id=request.client.get_client_id(),
            redirect_uri=data.get("redirect_uri"),
            scope=request.scope or "",
            account_id=user.account.id,
            subject=user.subject,
            auth_time=user.auth_time,
            amr=user.amr,
            acr=user.acr,
            sid=user.sid,
            nonce=data.get("nonce"),
            code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"),
            claims=getattr(request, "claims_request", None),
            act_for=user.act_for,
            extra_claims=user.claims,
        )
        store = self.server.services.expiring

        async def write() -> None:
            await store.issue(
                kv_keys.authorization_code(digest(code)),
                record.client_id,
                record.to_bytes(),
                CODE_TTL,
            )

        grant_context.get().writes.append(write)

    def query_authorization_code(self, code: str, client: OAuthClient) -> CodeRecord | None:
        context = grant_context.get()
        record = context.code
        if record is None or context.code_digest != digest(code):
            return None
        return record if record.client_id == client.get_client_id() else None

    def delete_authorization_code(self, authorization_code: CodeRecord) -> None:
        return None  # taken from the store (atomically, once) before the grant ran

    def authenticate_user(self, authorization_code: CodeRecord) -> EndUser | None:
        account = grant_context.get().account
        if account is None or account.disabled or account.id != authorization_code.account_id:
            return None
        return EndUser(
            account=account,
            subject=authorization_code.subject,
            auth_time=authorization_code.auth_time,
            amr=authorization_code.amr,
            acr=authorization_code.acr,
            sid=authorization_code.sid,
            act_for=authorization_code.act_for,
            claims=authorization_code.extra_claims or {},
        )


class RefreshTokenGrant(grants.RefreshTokenGrant):
    """RFC 6749 §6 with rotation on every use (RFC 9700 §4.14.2); reuse is caught before
    Authlib runs, where the family can be revoked asynchronously."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]  # noqa: RUF012
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshView | None:
        record = grant_context.get().refresh
        if record is None or record.digest != digest(refresh_token):
            return None
        # A scope taken from the client since (a privileged one, say) is not refreshed.
        client: OAuthClient = self.request.client
        return RefreshView(record, client.get_allowed_scope(record.scope))

    def authenticate_user(self, refresh_token: RefreshView) -> EndUser | None:
        account = grant_context.get().account
        record = refresh_token.record
        if account is None or account.disabled or account.id != record.account_id:
            return None
        return EndUser(
            account=account,
            subject=self.server.subject(record.client_id, account.id),
            auth_time=record.auth_time,
            amr=list(record.amr),
            acr=record.acr,
            sid=record.sid,
            act_for=record.act_for,
            claims=grant_context.get().org_claims or {},
        )

    def revoke_old_credential(self, refresh_token: RefreshView) -> None:
        return None  # the rotation write marks it used, in one transaction with its successor


class IdTokens(OpenIDCode):
    """ID tokens (OIDC Core §2, §3.1.3.6) signed by the key ring: RS256 unless only other
    algorithms are configured."""

    def __init__(self, server: AuthorizationServer) -> None:
        super().__init__(require_nonce=False)
        self._server = server

    def _alg(self) -> str:
        keys = self._server.services.keys
        return "RS256" if "RS256" in keys.algs else keys.default_alg

    def get_client_algorithm(self, client: OAuthClient) -> str:
        return self._alg()

    def encode_id_token(self, token: dict[str, Any], request: OAuth2Request) -> str:
        """Authlib's claims, in Authlib's order, signed by the key ring like every other token
        (kid in the header, encoded once per key) rather than through a key set and a joserfc
        registry built for each ID token."""
        alg = self.get_client_algorithm(request.client)
        claims = self.get_compatible_claims(request)
        if request.authorization_code:
            claims.update(self.get_authorization_code_claims(request.authorization_code))
        access_token = token.get("access_token")
        if access_token:
            at_hash = create_half_hash(access_token, alg)
            if at_hash is not None:
                claims["at_hash"] = at_hash.decode("utf-8")
        claims.update(self.generate_user_info(request.user, token["scope"]))
        return self._server.services.keys.sign(claims, alg)

    def get_client_claims(self, client: OAuthClient) -> dict[str, Any]:
        services = self._server.services
        now = int(services.clock.now())
        return {
            "iss": services.settings.issuer,
            "aud": client.get_client_id(),
            "azp": client.get_client_id(),
            "iat": now,
            "exp": now + services.settings.id_token_ttl,
        }

    def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
        return False  # a nonce travels inside a single-use code; replay is caught there

    def generate_user_info(self, user: EndUser, scope: str) -> dict[str, Any]:
        code = grant_context.get().code
        requested = ((code.claims or {}).get("id_token") if code else None) or {}
        claims = user_claims(user.account, user.subject, scope_to_list(scope) or [], requested)
        if user.sid:
            claims["sid"] = user.sid
        claims.update({k: v for k, v in user.claims.items() if k not in claims})
        return claims


class OAuthResponse(Response):
    """A Starlette response with the ``location`` attribute Authlib's hooks expect."""

    @property
    def location(self) -> str | None:
        return self.headers.get("location")

    @location.setter
    def location(self, value: str) -> None:
        self.headers["location"] = value


class AuthorizationServer(_AuthlibServer):
    def __init__(self, services: Services) -> None:
        super().__init__()
        self.services = services
        settings, keys = services.settings, services.keys
        generator = AccessTokenGenerator(settings, keys, services.clock, services.expiring)
        generator.refresh_token_generator = lambda *args, **kwargs: secrets.token_urlsafe(32)
        self.register_token_generator("default", generator)
        self.register_client_auth_method("client_secret_basic", client_secret_basic)
        self.register_grant(ClientCredentialsGrant)
        self.register_grant(
            AuthorizationCodeGrant, [RequestChecks(), PKCE(required=True), IdTokens(self)]
        )
        self.register_grant(RefreshTokenGrant)
        issuer = IssuerParameter()
        issuer.get_issuer = lambda: settings.issuer  # type: ignore[method-assign]
        self.register_extension(issuer)

    def subject(self, client_id: str, account_id: str) -> str:
        from gateway.identity.claims import subject_for

        client = grant_context.get().clients.get(client_id)
        if client is None:
            return account_id
        return subject_for(client, account_id, self.services.pairwise_key)

    def create_oauth2_request(self, request: OAuth2Request) -> OAuth2Request:
        # Endpoints build the FormRequest themselves (after the async prefetch).
        return request

    def query_client(self, client_id: str) -> OAuthClient | None:
        record = grant_context.get(GrantContext()).clients.get(client_id)
        return None if record is None else OAuthClient(record)

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        """Access tokens are self-contained JWTs or opaque references (stored by the generator);
        refresh tokens are stored, in families."""
        issued_to = request.user.account.id if isinstance(request.user, EndUser) else None
        context = grant_context.get()
        issued = AuditEvent(
            "token.issued",
            actor=issued_to or request.client.get_client_id(),
            client_id=request.client.get_client_id(),
            details={
                "grant_type": request.payload.grant_type,
                "jti": context.access_jti,
                "scope": token.get("scope"),
                "refresh": "refresh_token" in token,
            },
        )

        async def record_issued() -> None:
            # Last of the writes: a rotation or code found reused withdraws the tokens first.
            self.services.audit.queue(issued)

        context.finally_writes.append(record_issued)
        refresh_token = token.get("refresh_token")
        if not refresh_token:
            return
        user: EndUser = request.user
        now = self.services.clock.now()
        previous = context.refresh
        scope = previous.scope if previous else (token.get("scope") or "")
        offline = "offline_access" in (scope_to_list(scope) or [])
        settings = self.services.settings
        ttl = settings.refresh_token_ttl if offline else settings.session_max_seconds
        record = RefreshToken(
            digest=digest(refresh_token),
            family_id=previous.family_id if previous else secrets.token_urlsafe(32),
            client_id=request.client.get_client_id(),
            account_id=user.account.id,
            scope=scope,
            offline=offline,
            auth_time=user.auth_time,
            created_at=now,
            # Offline tokens slide (each use renews them); session-bound ones never outlast
            # the first one's expiry, which the session's absolute lifetime bounds.
            expires_at=previous.expires_at if previous and not offline else now + ttl,
            sid=None if offline else user.sid,
            acr=user.acr,
            amr=tuple(user.amr),
            access_jti=context.access_jti,
            act_for=user.act_for,
        )
        context.family_id = record.family_id
        store = self.services.refresh_tokens
        if previous is None:

            async def add() -> None:
                await store.add(record)
                context.issued = True

            context.writes.append(add)
            return

        async def rotate() -> None:
            if not await store.rotate(previous.digest, record, now):
                # Another request used the same token at the same moment: that is reuse too.
                await revoke_family(self.services, previous.family_id, "refresh token reuse")
                if context.access_jti:
                    await revoke_access_token(self.services, context.access_jti)
                raise InvalidGrantError("The refresh token was used already.")
            context.issued = True

        context.writes.append(rotate)

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None

    def handle_error_response(self, request: OAuth2Request, error: OAuth2Error) -> Response:
        status, body, headers = error(self.get_error_uri(request, error))
        if isinstance(error, InvalidClientError):
            # One answer for unknown client, wrong secret and wrong method: no probing.
            body = oauth_error_fields("invalid_client", "Client authentication failed.")
            headers = [h for h in headers if h[0].lower() != "www-authenticate"]
            if status == 401:
                headers.append(("WWW-Authenticate", BASIC_CHALLENGE))
        if body.get("error_description"):
            body["error_description"] = description_text(body["error_description"], error.error)
        return self.handle_response(status, body, headers)

    def handle_response(
        self, status: int, body: Any, headers: list[tuple[str, str]]
    ) -> OAuthResponse:
        content = orjson.dumps(body) if isinstance(body, dict) else body
        response = OAuthResponse(content, status_code=status)
        if headers:
            # As ``response.headers[name] = value`` for each, the last of a name winning, but
            # with the header list built once rather than once a header.
            given = {name.lower().encode("latin-1"): value for name, value in headers}
            response.raw_headers = [
                *(header for header in response.raw_headers if header[0] not in given),
                *((name, value.encode("latin-1")) for name, value in given.items()),
            ]
        return response
