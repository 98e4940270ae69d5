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
from pydantic import Field, ValidationInfo, field_validator

from providers.base import (
    Identity,
    ProviderConfig,
    ProviderError,
    ProviderUnavailable,
    identity_mapping,
    text,
    text_values,
    web_url,
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
    jwks_uri: str | None = Field(None, validate_default=True)
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
        return identity_mapping(text_values(value))

    @field_validator("issuer")
    @classmethod
    def _url(cls, value: str) -> str:
        # OpenID Connect Discovery §3: https, a host, no query or fragment.
        return web_url(value).rstrip("/")

    @field_validator("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        return None if value is None else web_url(value, query=True)

    @field_validator("client_id", "subject_claim")
    @classmethod
    def _text(cls, value: str) -> str:
        return text(value)

    @field_validator("client_secret")
    @classmethod
    def _secret(cls, value: str | None) -> str | None:
        if value == "":
            raise ValueError("must not be empty (leave it out for a public client)")
        return value

    @field_validator("scopes")
    @classmethod
    def _scopes(cls, value: list[str]) -> list[str]:
        # RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
        for scope in value:
            if not scope or any(c in '"\\' or not 0x21 <= ord(c) <= 0x7E for c in scope):
                raise ValueError(f"{scope!r} is not a scope token (RFC 6749 §3.3)")
        return value

    @field_validator("jwks_uri")
    @classmethod
    def _keys_without_discovery(cls, value: str | None, info: ValidationInfo) -> str | None:
        # Discovery is skipped when both endpoints are given: the ID token's keys must be too.
        data = info.data
        explicit = data.get("authorization_endpoint") and data.get("token_endpoint")
        if explicit and value is None and "openid" in data.get("scopes", ()):
            raise ValueError("is needed with authorization_endpoint and token_endpoint (openid)")
        return value

    def open(self, provider_id: str) -> OidcProvider:
        return OidcProvider(provider_id, self)


def _endpoint_problem(value: object, *, required: bool) -> str | None:
    """What is wrong with an endpoint an upstream's discovery document names, if anything."""
    if value is None and not required:
        return None
    if not isinstance(value, str):
        return "is missing"
    try:
        web_url(value, query=True)
    except ValueError as error:
        return str(error)
    return None


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
            issuer = document.get("issuer")
            if not isinstance(issuer, str) or issuer.rstrip("/") != config.issuer:
                raise ProviderUnavailable(
                    config.name, "its discovery document names another issuer"
                )
            merged = {**document, **explicit}
            needed = ["authorization_endpoint", "token_endpoint"]
            needed += ["jwks_uri"] if "openid" in config.scopes else []
            for key in (*needed, "userinfo_endpoint"):
                problem = _endpoint_problem(merged.get(key), required=key in needed)
                if problem:
                    raise ProviderUnavailable(config.name, f"discovery: {key} {problem}")
            self._metadata = (now + _METADATA_SECONDS, merged)
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
            code = tokens.get("error") if isinstance(tokens, dict) else None
            raise ProviderError(f"{config.name}: the code was refused ({code})")
        return tokens

    async def _id_token_claims(self, token: str, nonce: str, jwks_uri: str) -> dict[str, Any]:
        for attempt in range(2):  # one refetch: the upstream may have rotated its keys
            if self._keys is None or attempt:
                document = await self._get_json(jwks_uri)
                try:
                    self._keys = KeySet.import_key_set(document)  # type: ignore[arg-type]
                except (JoseError, ValueError, TypeError, KeyError) as error:
                    raise ProviderUnavailable(self.config.name, "its JWKS is not valid") from error
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
