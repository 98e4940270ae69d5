"""The grants (client credentials, authorization code with PKCE and ID tokens, refresh) and
the access token generator, as Authlib's hooks: they only read what was prefetched."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import (
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Request,
    grants,
)
from authlib.oauth2.rfc6749.util import list_to_scope, scope_to_list
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7636.challenge import CODE_VERIFIER_PATTERN
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator
from authlib.oidc.core.grants import OpenIDCode
from authlib.oidc.core.grants.util import create_half_hash

from gateway.identity import expiry_sweep
from gateway.identity.access import PRIVILEGED_SCOPES
from gateway.identity.claims import user_claims
from gateway.oauth.access_tokens import mint_opaque, seal
from gateway.oauth.models import (
    CODE_TTL,
    CodeRecord,
    EndUser,
    OAuthClient,
    RefreshView,
    digest,
    grant_context,
)
from gateway.server.settings import Settings
from keys.ring import KeyRing
from policies.clients import OPAQUE
from policies.resources import may_target, narrowed
from store import kv_keys
from store.clock import Clock
from store.kv import ExpiringStore

if TYPE_CHECKING:
    from gateway.oauth.server import AuthorizationServer

    pass


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

    def generate(
        self,
        grant_type: str,
        client: OAuthClient,
        user: Any = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        context = grant_context.get(None)
        if context is not None and context.resource is not None and scope:
            # RFC 8707 §2.2: the token carries what its resource accepts.
            scope = list_to_scope(narrowed(scope_to_list(scope), context.resource.scopes))
        token = super().generate(grant_type, client, user, scope, expires_in, include_refresh_token)
        if context is not None and context.dpop_jkt:
            token["token_type"] = "DPoP"  # noqa: S105 (RFC 9449 §5)
        return token

    def get_allowed_scope(self, client: OAuthClient, scope: str | None) -> str | None:
        context = grant_context.get(None)
        if context is not None and context.exchange_claims is not None:
            return scope  # the person's grant and the API decide (gateway.oauth.token_exchange)
        return super().get_allowed_scope(client, scope)

    def get_audiences(self, client: OAuthClient, user: Any, scope: str | None) -> str | list[str]:
        """The resource asked for (RFC 8707); for a client acting for itself without one, every
        resource that accepts a scope it was granted and may ask for; else the client."""
        context = grant_context.get(None)
        if context is None:
            return client.get_client_id()
        if context.resource is not None:
            return context.resource.audience
        if user is None and scope:
            granted = set(scope_to_list(scope) or [])
            record = client.record
            audiences = [
                r.audience
                for r in context.resources.values()
                if not granted.isdisjoint(r.scopes)
                and may_target(record.client_id, r.allowed_clients)
            ]
            if audiences:
                return audiences[0] if len(audiences) == 1 else audiences
        return client.get_client_id()

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
        if context is not None and context.exchange_claims:
            claims.update(context.exchange_claims)
        if context is not None and context.dpop_jkt:
            claims["cnf"] = {"jkt": context.dpop_jkt}  # RFC 9449 §6.1
        resource = context.resource if context is not None else None
        token_format = (resource or client.record).access_token_format
        if token_format == OPAQUE:
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
    validated_redirect_uri: str | None = None

    def validate_authorization_request(self) -> str:
        # The endpoint validates before its decision and issues the code from the same grant:
        # the request is validated once, not again when Authlib issues.
        if self.validated_redirect_uri is None:
            self.validated_redirect_uri = super().validate_authorization_request()
        return self.validated_redirect_uri

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
            dpop_jkt=data.get("dpop_jkt"),
            resource=data.get("resource"),
        )
        store = self.server.services.expiring

        async def write() -> None:
            await store.issue(
                kv_keys.authorization_code(digest(code)),
                record.client_id,
                record.to_bytes(),
                CODE_TTL,
                expiry_sweep.CODE,
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
        scopes = scope_to_list(scope) or []
        phone = grant_context.get().phone
        claims = user_claims(user.account, user.subject, scopes, requested, phone)
        if user.sid:
            claims["sid"] = user.sid
        claims.update({k: v for k, v in user.claims.items() if k not in claims})
        return claims
