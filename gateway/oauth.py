"""The only Authlib glue: the request adapter, the client model, the authorization server and
its grants.

Authlib's server is synchronous. Endpoints load what a grant will need asynchronously first
(``prefetched_clients``), run Authlib inline on the event loop — its hooks only read what was
prefetched — and write afterwards. Running it in threads costs more than it saves.
"""

from __future__ import annotations

import json
import secrets
from contextvars import ContextVar
from typing import Any

from authlib.oauth2 import AuthorizationServer as _AuthlibServer
from authlib.oauth2.rfc6749 import (
    ClientMixin,
    InvalidClientError,
    InvalidScopeError,
    OAuth2Error,
    OAuth2Request,
    grants,
)
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc6749.util import list_to_scope, scope_to_list
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator
from starlette.responses import Response

from gateway.clients import secret_matches
from gateway.settings import Settings
from keys.ring import KeyRing
from policies.redirect_uris import redirect_uri_matches
from store.clock import Clock
from store.records import Client

# Client records the current request may ask Authlib about, loaded before Authlib runs.
prefetched_clients: ContextVar[dict[str, Client | None]] = ContextVar("prefetched_clients")

NO_STORE_HEADERS = {"Cache-Control": "no-store", "Pragma": "no-cache"}
# RFC 7617 §2 makes the realm mandatory in a Basic challenge.
BASIC_CHALLENGE = 'Basic realm="yihaotong", charset="UTF-8"'


class FormRequest(OAuth2Request):
    """An OAuth2Request over an already-parsed form. Transport security is the issuer's job (a
    non-https issuer is warned about at start), so Authlib's per-request URL check is skipped."""

    def __init__(
        self, method: str, uri: str, form: dict[str, str], headers: Any, args: dict[str, str]
    ) -> None:
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
        allowed = set(self.record.scopes)
        return list_to_scope([s for s in scope_to_list(scope) or [] if s in allowed])

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri_matches(redirect_uri, self.record.redirect_uris)

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


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    """RFC 6749 §4.4. Scopes: only those registered for the client; none requested means all of
    them (RFC 6749 §3.3 lets the server pick a default)."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]  # noqa: RUF012

    def validate_requested_scope(self) -> None:
        client: OAuthClient = self.request.client
        requested = scope_to_list(self.request.payload.scope) or []
        if not requested:
            self.request.scope = list_to_scope(client.record.scopes) or ""
            return
        unknown = [scope for scope in requested if scope not in client.record.scopes]
        if unknown:
            raise InvalidScopeError(f"The client may not request: {' '.join(unknown)}")
        self.request.scope = list_to_scope(list(dict.fromkeys(requested)))

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        token = self.generate_token(scope=self.request.scope or None, include_refresh_token=False)
        self.save_token(token)
        return 200, token, self.TOKEN_RESPONSE_HEADER


class AccessTokenGenerator(JWTBearerTokenGenerator):
    """RFC 9068 JWT access tokens, signed through the key ring (kid in the header, any of its
    algorithms); Authlib's hooks decide audience, jti and extra claims."""

    def __init__(self, settings: Settings, keys: KeyRing, clock: Clock) -> None:
        super().__init__(
            issuer=settings.issuer,
            alg=keys.default_alg,
            expires_generator=lambda client, grant_type: settings.access_token_ttl,
        )
        self._keys = keys
        self._clock = clock

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
        claims.update(self.get_extra_claims(client, grant_type, user, scope))
        return self._keys.sign(claims, self.alg, typ="at+jwt")


class AuthorizationServer(_AuthlibServer):
    def __init__(self, settings: Settings, keys: KeyRing, clock: Clock) -> None:
        super().__init__()
        self.register_token_generator("default", AccessTokenGenerator(settings, keys, clock))
        self.register_grant(ClientCredentialsGrant)

    def create_oauth2_request(self, request: OAuth2Request) -> OAuth2Request:
        # Endpoints build the FormRequest themselves (after the async prefetch).
        return request

    def query_client(self, client_id: str) -> OAuthClient | None:
        record = prefetched_clients.get({}).get(client_id)
        return None if record is None else OAuthClient(record)

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        # JWT access tokens are self-contained: nothing to store for client_credentials.
        return None

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None

    def handle_error_response(self, request: OAuth2Request, error: OAuth2Error) -> Response:
        status, body, headers = error(self.get_error_uri(request, error))
        if isinstance(error, InvalidClientError):
            # One answer for unknown client, wrong secret and wrong method: no probing.
            body = {"error": "invalid_client", "error_description": "Client authentication failed."}
            headers = [h for h in headers if h[0].lower() != "www-authenticate"]
            if status == 401:
                headers.append(("WWW-Authenticate", BASIC_CHALLENGE))
        return self.handle_response(status, body, headers)

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> Response:
        content = (
            json.dumps(body, separators=(",", ":")).encode() if isinstance(body, dict) else body
        )
        response = Response(content, status_code=status)
        for name, value in headers:
            response.headers[name] = value
        return response
