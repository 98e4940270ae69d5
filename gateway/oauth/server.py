"""The only Authlib glue: the request adapter, the client model, the authorization server and
its grants.

Authlib's server is synchronous. Endpoints load what a grant will need asynchronously first
(``grant_context``), run Authlib inline on the event loop — its hooks only read what was
prefetched — and write afterwards. Running it in threads costs more than it saves.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import orjson
from authlib.oauth2 import AuthorizationServer as _AuthlibServer
from authlib.oauth2.rfc6749 import (
    InvalidClientError,
    InvalidGrantError,
    OAuth2Error,
    OAuth2Request,
)
from authlib.oauth2.rfc6749.util import scope_to_list
from authlib.oauth2.rfc9207 import IssuerParameter
from starlette.responses import Response

from gateway.oauth.device_codes import DeviceAuthorization, DeviceGrant, DevicePace
from gateway.oauth.grants import (
    PKCE,
    AccessTokenGenerator,
    AuthorizationCodeGrant,
    ClientCredentialsGrant,
    IdTokens,
    RefreshTokenGrant,
)
from gateway.oauth.models import (
    BASIC_CHALLENGE,
    EndUser,
    GrantContext,
    OAuthClient,
    client_secret_basic,
    digest,
    grant_context,
)
from gateway.oauth.request_checks import RequestChecks
from gateway.oauth.revocations import revoke_access_token, revoke_family
from gateway.oauth.token_exchange import TokenExchangeGrant
from gateway.server.responses import description_text, oauth_error_fields
from store.records import AuditEvent, RefreshToken

if TYPE_CHECKING:
    from gateway.server.services import Services


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
        self.register_grant(DeviceGrant, [IdTokens(self)])
        self.register_endpoint(DeviceAuthorization(self))
        self.device_pace = DevicePace(settings.device_poll_interval)
        self.register_grant(TokenExchangeGrant)
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
        # What was granted, not what a token for one resource was narrowed to (RFC 8707).
        granted = context.code.scope if context.code else token.get("scope")
        scope = previous.scope if previous else (granted or "")
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
            dpop_jkt=self._refresh_key(request.client, previous, context),
        )
        context.family_id = record.family_id
        store = self.services.refresh_tokens
        if previous is None:
            installation = self._installation(request, record)

            async def add() -> None:
                await store.add(record)
                context.issued = True
                if installation is not None:
                    await installation()

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

    def _installation(
        self, request: OAuth2Request, record: RefreshToken
    ) -> Callable[[], Awaitable[None]] | None:
        """A new family of one of the city's apps is an app installation, named by the
        ``device_name`` the app sends with its token request (an extension parameter)."""
        if record.client_id not in self.services.settings.mobile_app_clients:
            return None
        name = str(request.payload.data.get("device_name") or "").strip()[:100]
        jkt = grant_context.get().dpop_jkt
        services = self.services

        async def remember() -> None:
            await services.app_installations.add(
                record.family_id, record.account_id, record.client_id, name, jkt, record.created_at
            )

        return remember

    @staticmethod
    def _refresh_key(
        client: OAuthClient, previous: RefreshToken | None, context: GrantContext
    ) -> str | None:
        """A public client's refresh tokens are bound to its DPoP key (RFC 9449 §5); a
        confidential client's are bound to it by its authentication already."""
        if not client.record.public:
            return None
        return (previous.dpop_jkt if previous else None) or context.dpop_jkt

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
