"""A department's OpenID provider (or plain OAuth 2.0 server): the browser goes there and comes
back with a code; the ID token is checked against the upstream's JWKS (issuer, audience, expiry,
nonce), PKCE protects the code, and claims are mapped to an Identity."""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import urlencode

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from pydantic import Field, field_validator

from providers.base import (
    Identity,
    ProviderConfig,
    ProviderError,
    ProviderUnavailable,
    identity_mapping,
)

_LEEWAY = 60  # seconds of clock difference tolerated with the upstream
_METADATA_SECONDS = 3600


class OidcConfig(ProviderConfig):
    type: Literal["oidc"] = "oidc"
    issuer: str = Field(description="The upstream's issuer; its discovery document is read.")
    client_id: str
    client_secret: str | None = Field(None, description="Unset: a public client (PKCE only).")
    token_auth_method: Literal["client_secret_basic", "client_secret_post"] = "client_secret_basic"  # noqa: S105 - a method name
    scopes: list[str] = Field(default_factory=lambda: ["openid", "profile", "email", "phone"])
    authorization_endpoint: str | None = Field(None, description="Instead of discovery.")
    token_endpoint: str | None = None
    userinfo_endpoint: str | None = None
    jwks_uri: str | None = None
    use_userinfo: bool = Field(True, description="Also read the UserInfo endpoint.")
    subject_claim: str = "sub"
    claims: dict[str, str] = Field(
        default_factory=lambda: {
            "username": "preferred_username",
            "name": "name",
            "email": "email",
            "phone": "phone_number",
        },
        description="Identity field -> claim name.",
    )
    verified_claims: dict[str, str] = Field(
        default_factory=lambda: {"email": "email_verified", "phone": "phone_number_verified"},
        description="Identity field -> boolean claim saying the upstream verified it.",
    )

    @field_validator("claims", "verified_claims")
    @classmethod
    def _known_fields(cls, value: dict[str, str]) -> dict[str, str]:
        return identity_mapping(value)

    @field_validator("issuer")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("issuer must be an http(s) URL")
        return value.rstrip("/")

    def open(self, provider_id: str) -> OidcProvider:
        return OidcProvider(provider_id, self)


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


class OidcProvider:
    def __init__(self, provider_id: str, config: OidcConfig) -> None:
        self.id = provider_id
        self.config = config
        self._http = httpx.AsyncClient(timeout=config.timeout_seconds, follow_redirects=False)
        self._metadata: tuple[float, dict[str, Any]] | None = None
        self._keys: KeySet | None = None

    def _down(self, error: Exception) -> ProviderUnavailable:
        return ProviderUnavailable(
            self.config.name, f"identity provider unreachable ({type(error).__name__})"
        )

    async def _get_json(self, url: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = await self._http.get(url, **kwargs)
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, ValueError) as error:
            raise self._down(error) from error
        if not isinstance(document, dict):
            raise ProviderError(f"{self.config.name}: {url} did not return a JSON object")
        return document

    async def metadata(self) -> dict[str, Any]:
        """Endpoints, from the configuration or the upstream's discovery document."""
        config = self.config
        explicit = {
            key: getattr(config, key)
            for key in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri")
            if getattr(config, key)
        }
        if config.authorization_endpoint and config.token_endpoint:
            return {"issuer": config.issuer, **explicit}
        now = time.monotonic()
        if self._metadata is None or self._metadata[0] <= now:
            document = await self._get_json(f"{config.issuer}/.well-known/openid-configuration")
            if document.get("issuer", "").rstrip("/") != config.issuer:
                raise ProviderError(f"{config.name}: discovery names another issuer")
            self._metadata = (now + _METADATA_SECONDS, {**document, **explicit})
        return self._metadata[1]

    async def login_url(self, callback_url: str, state: str, nonce: str, code_verifier: str) -> str:
        endpoint = (await self.metadata())["authorization_endpoint"]
        query = {
            "response_type": "code",
            "client_id": self.config.client_id,
            "redirect_uri": callback_url,
            "scope": " ".join(self.config.scopes),
            "state": state,
            "nonce": nonce,
            "code_challenge": s256(code_verifier),
            "code_challenge_method": "S256",
        }
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(query)}"

    async def _exchange(
        self, token_endpoint: str, callback_url: str, code: str, verifier: str
    ) -> dict[str, Any]:
        config = self.config
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": callback_url,
            "code_verifier": verifier,
        }
        auth = None
        basic = config.token_auth_method == "client_secret_basic"  # noqa: S105 - a method name
        if config.client_secret and basic:
            auth = (config.client_id, config.client_secret)
        else:
            form["client_id"] = config.client_id
            if config.client_secret:
                form["client_secret"] = config.client_secret
        try:
            response = await self._http.post(token_endpoint, data=form, auth=auth)
            tokens = response.json()
        except (httpx.HTTPError, ValueError) as error:
            raise self._down(error) from error
        if response.status_code != 200 or not isinstance(tokens, dict):
            raise ProviderError(f"{config.name}: the code was refused ({tokens.get('error')})")
        return tokens

    async def _id_token_claims(self, token: str, nonce: str, jwks_uri: str) -> dict[str, Any]:
        for attempt in range(2):  # one refetch: the upstream may have rotated its keys
            if self._keys is None or attempt:
                self._keys = KeySet.import_key_set(await self._get_json(jwks_uri))
            try:
                claims = jwt.decode(
                    token, self._keys, algorithms=["RS256", "ES256", "PS256", "EdDSA"]
                ).claims
                break
            except (JoseError, ValueError, TypeError) as error:
                if attempt:
                    raise ProviderError(f"{self.config.name}: the ID token is not valid") from error
        now = time.time()
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        exp = claims.get("exp")
        checks = {
            "issuer": str(claims.get("iss", "")).rstrip("/") == self.config.issuer,
            "audience": self.config.client_id in audiences,
            "azp": len(audiences) == 1 or claims.get("azp") == self.config.client_id,
            "expiry": isinstance(exp, int | float) and exp >= now - _LEEWAY,
            "nonce": claims.get("nonce") == nonce,
        }
        failed = [name for name, passed in checks.items() if not passed]
        if failed:
            raise ProviderError(f"{self.config.name}: the ID token failed {', '.join(failed)}")
        return claims

    async def callback(
        self, callback_url: str, params: Mapping[str, str], nonce: str, code_verifier: str
    ) -> Identity:
        """The Identity behind the code in ``params`` (state is checked by the caller)."""
        if "error" in params or "code" not in params:
            raise ProviderError(f"{self.config.name}: sign-in was not completed")
        metadata = await self.metadata()
        tokens = await self._exchange(
            metadata["token_endpoint"], callback_url, params["code"], code_verifier
        )
        claims: dict[str, Any] = {}
        if "openid" in self.config.scopes:
            if "id_token" not in tokens or "jwks_uri" not in metadata:
                raise ProviderError(f"{self.config.name}: no ID token came back")
            claims = await self._id_token_claims(tokens["id_token"], nonce, metadata["jwks_uri"])
        if (
            self.config.use_userinfo
            and metadata.get("userinfo_endpoint")
            and "access_token" in tokens
        ):
            info = await self._get_json(
                metadata["userinfo_endpoint"],
                headers={"Authorization": f"Bearer {tokens['access_token']}"},
            )
            if claims and info.get("sub") != claims.get("sub"):
                raise ProviderError(f"{self.config.name}: UserInfo is about someone else")
            claims = {**claims, **info}
        subject = claims.get(self.config.subject_claim)
        if not subject:
            raise ProviderError(f"{self.config.name}: no subject in the answer")
        fields = {
            field: str(claims[claim])
            for field, claim in self.config.claims.items()
            if claims.get(claim) not in (None, "")
        }
        verified = {f for f in self.config.verified if f in fields}
        verified |= {
            f
            for f, claim in self.config.verified_claims.items()
            if f in fields and claims.get(claim) is True
        }
        return Identity(
            provider_id=self.id,
            subject=str(subject),
            verified=frozenset(verified),
            raw=claims,
            **fields,
        )

    async def check(self) -> str:
        metadata = await self.metadata()
        endpoint = metadata["authorization_endpoint"]
        return f"issuer {metadata.get('issuer')}; authorization at {endpoint}"

    async def aclose(self) -> None:
        await self._http.aclose()
