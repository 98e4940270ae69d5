"""The province's unified authentication platform, ticket style (DB37/T 3448, Zhejiang, Hunan):
the browser goes to the platform's login page with the app's id and a return URL, comes back with
a ticket; the ticket is exchanged for a token and the token for the user (a person or a legal
person, with a real-name level). Requests are signed over their sorted parameters with the app
secret, answers are checked the same way, and their payload may be sealed with SM4 or RSA.

Everything that differs between provinces is configuration; the defaults are the documented
default recipe (docs/federation.md)."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlencode

import httpx
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

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
from providers.province_signing import (
    Algorithm,
    rsa_decrypt,
    sign,
    signature_holds,
    sm4_decrypt,
)

Level = Literal["L1", "L2", "L3"]
_RANK = {"L1": 1, "L2": 2, "L3": 3}


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Paths(_Part):
    login: str = Field("/login", description="The platform's login page.")
    token: str = Field("/api/token", description="Ticket -> token.")
    user: str = Field("/api/user", description="Token -> the user.")

    @field_validator("login", "token", "user")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/") or "?" in value or "#" in value or "//" in value:
            raise ValueError("must be a path starting with / (no query or fragment)")
        return text(value)


class Params(_Part):
    """Parameter names in the platform's requests; an empty name leaves the parameter out."""

    app_id: str = "appId"
    return_url: str = "redirectUrl"
    ticket: str = "ticket"
    token: str = "token"  # noqa: S105 - a parameter name
    timestamp: str = "timestamp"
    nonce: str = "nonce"
    sign: str = "sign"


class Signature(_Part):
    algorithm: Algorithm = Field("md5", description="md5, sm3 or hmac-sha256.")
    secret_name: str = Field("key", description="md5/sm3: the secret is appended as &NAME=SECRET.")
    sign_login: bool = Field(False, description="Also sign the login page's URL.")
    verify_responses: bool = Field(True, description="Refuse answers without a valid signature.")


class Answer(_Part):
    """Field names of the platform's JSON answers."""

    code: str = "code"
    success: str = Field("0", description="The code value meaning success.")
    message: str = "msg"
    data: str = Field("data", description="The payload: an object, or a sealed string.")
    token: str = Field("token", description="The token's field inside the payload.")


class UserFields(_Part):
    """Where the user's facts are in the user payload."""

    subject: str = "userId"
    type: str = Field("userType", description="Person or legal person.")
    person: str = "1"
    legal_person: str = "2"
    level: str = Field("authLevel", description="The real-name level.")
    person_fields: dict[str, str] = Field(
        default_factory=lambda: {
            "name": "name",
            "national_id": "idCardNo",
            "phone": "mobile",
            "email": "email",
        },
        description="Identity field -> payload field, for persons.",
    )
    legal_fields: dict[str, str] = Field(
        default_factory=lambda: {"name": "corpName", "uscc": "creditCode"},
        description="Identity field -> payload field, for legal persons.",
    )

    @field_validator("person_fields", "legal_fields")
    @classmethod
    def _known(cls, value: dict[str, str]) -> dict[str, str]:
        return identity_mapping(text_values(value))


class ProvinceConfig(ProviderConfig):
    type: Literal["province"] = "province"
    base_url: str = Field(description="The platform's base URL; the paths are relative to it.")
    app_id: str
    app_secret: str = Field(min_length=8, description="Signs requests and checks answers.")
    assurance: Level = Field("L3", description="The highest level taken from the platform.")
    verified: frozenset[str] = Field(
        frozenset({"national_id", "uscc"}),
        description="Identifiers the platform vouches for (from real-name level L2 on).",
    )
    http_method: Literal["GET", "POST"] = "POST"
    paths: Paths = Field(default_factory=Paths)
    params: Params = Field(default_factory=Params)
    signature: Signature = Field(default_factory=Signature)
    answer: Answer = Field(default_factory=Answer)
    user: UserFields = Field(default_factory=UserFields)
    levels: dict[str, Level] = Field(
        default_factory=lambda: {"1": "L1", "2": "L2", "3": "L3", "4": "L3"},
        description="The platform's real-name level -> L1-L3 (unknown levels count as L1).",
    )
    encryption: Literal["none", "sm4", "rsa"] = "none"
    sm4_key: str | None = Field(None, description="SM4 key, 32 hexadecimal digits.")
    rsa_private_key_file: str | None = Field(None, description="PEM file of our RSA key.")

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return web_url(value).rstrip("/")

    @field_validator("app_id", "app_secret")
    @classmethod
    def _text(cls, value: str) -> str:
        return text(value)

    @field_validator("sm4_key")
    @classmethod
    def _sm4_key(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                if len(bytes.fromhex(value)) != 16:
                    raise ValueError
            except ValueError:
                raise ValueError("must be 32 hexadecimal digits (128 bits)") from None
        return value

    @model_validator(mode="after")
    def _keys(self) -> ProvinceConfig:
        if self.encryption == "sm4" and not self.sm4_key:
            raise ValueError("encryption sm4 needs sm4_key")
        if self.encryption == "rsa":
            if not self.rsa_private_key_file:
                raise ValueError("encryption rsa needs rsa_private_key_file")
            _load_rsa(self.rsa_private_key_file)
        return self

    def open(self, provider_id: str) -> ProvinceProvider:
        return ProvinceProvider(provider_id, self)


def _load_rsa(path: str) -> RSAPrivateKey:
    try:
        key = load_pem_private_key(Path(path).read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        raise ValueError("rsa_private_key_file is not a readable unencrypted PEM key") from None
    if not isinstance(key, RSAPrivateKey):
        raise ValueError("rsa_private_key_file is not an RSA key")
    return key


def _return_url(callback_url: str, state: str) -> str:
    # The platforms echo no state: it rides in the return URL, bound to the browser's transaction.
    return f"{callback_url}?{urlencode({'state': state})}"


class ProvinceProvider:
    def __init__(self, provider_id: str, config: ProvinceConfig) -> None:
        self.id = provider_id
        self.config = config
        self._http = httpx.AsyncClient(timeout=config.timeout_seconds, follow_redirects=False)
        self._rsa = _load_rsa(config.rsa_private_key_file) if config.rsa_private_key_file else None

    def _signed(self, params: dict[str, str]) -> dict[str, str]:
        names, recipe = self.config.params, self.config.signature
        extra = {names.timestamp: str(int(time.time() * 1000)), names.nonce: secrets.token_hex(16)}
        params = {**params, **{k: v for k, v in extra.items() if k}}
        params[names.sign] = sign(
            params,
            self.config.app_secret,
            recipe.algorithm,
            exclude=names.sign,
            secret_name=recipe.secret_name,
        )
        return params

    async def login_url(self, callback_url: str, state: str, nonce: str, code_verifier: str) -> str:
        names = self.config.params
        query = {
            names.app_id: self.config.app_id,
            names.return_url: _return_url(callback_url, state),
        }
        if self.config.signature.sign_login:
            query = self._signed(query)
        return f"{self.config.base_url}{self.config.paths.login}?{urlencode(query)}"

    async def _call(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        """The payload of a signed call; raises ProviderUnavailable or ProviderError."""
        config, answer = self.config, self.config.answer
        signed = self._signed({config.params.app_id: config.app_id, **params})
        url = f"{config.base_url}{path}"
        try:
            if config.http_method == "GET":
                response = await self._http.get(url, params=signed)
            else:
                response = await self._http.post(url, data=signed)
            if response.status_code >= 500:
                raise ProviderUnavailable(config.name, f"platform answered {response.status_code}")
            body = response.json()
        except httpx.HTTPError as error:
            raise ProviderUnavailable(
                config.name, f"platform unreachable ({type(error).__name__})"
            ) from error
        except ValueError as error:
            raise ProviderError(f"{config.name}: the platform's answer is not JSON") from error
        if not isinstance(body, dict):
            raise ProviderError(f"{config.name}: the platform's answer is not an object")
        recipe = config.signature
        if recipe.verify_responses and not signature_holds(
            body,
            config.app_secret,
            recipe.algorithm,
            exclude=config.params.sign,
            secret_name=recipe.secret_name,
        ):
            raise ProviderError(f"{config.name}: the platform's answer has a wrong signature")
        if str(body.get(answer.code)) != answer.success:
            code = str(body.get(answer.code))[:40]
            raise ProviderError(f"{config.name}: the platform refused ({code})")
        return self._payload(body.get(answer.data))

    def _payload(self, data: object) -> dict[str, Any]:
        config = self.config
        if config.encryption != "none":
            if not isinstance(data, str):
                raise ProviderError(f"{config.name}: the payload is not sealed")
            try:
                if config.encryption == "sm4":
                    plain = sm4_decrypt(data, bytes.fromhex(config.sm4_key or ""))
                elif self._rsa is not None:  # the config requires the key with rsa
                    plain = rsa_decrypt(data, self._rsa)
                else:
                    raise ValueError("no RSA key")
                data = json.loads(plain)
            except ValueError as error:
                raise ProviderError(f"{config.name}: the payload cannot be opened") from error
        if not isinstance(data, dict):
            raise ProviderError(f"{config.name}: the payload is not an object")
        return data

    async def callback(
        self, callback_url: str, params: Mapping[str, str], nonce: str, code_verifier: str
    ) -> Identity:
        names = self.config.params
        ticket = params.get(names.ticket, "")
        if not ticket or len(ticket) > 512 or not ticket.isprintable():
            raise ProviderError(f"{self.config.name}: sign-in was not completed")
        tokens = await self._call(self.config.paths.token, {names.ticket: ticket})
        token = tokens.get(self.config.answer.token)
        if not isinstance(token, str) or not token:
            raise ProviderError(f"{self.config.name}: no token came back")
        user = await self._call(self.config.paths.user, {names.token: token})
        return self._identity(user)

    def _level(self, user: Mapping[str, Any]) -> str:
        mapped = self.config.levels.get(str(user.get(self.config.user.level)), "L1")
        return min(mapped, self.config.assurance, key=_RANK.__getitem__)

    def _identity(self, user: Mapping[str, Any]) -> Identity:
        shape = self.config.user
        subject = user.get(shape.subject)
        if subject in (None, "") or isinstance(subject, dict | list):
            raise ProviderError(f"{self.config.name}: no user id in the answer")
        kind = str(user.get(shape.type, shape.person))
        if kind not in (shape.person, shape.legal_person):
            raise ProviderError(f"{self.config.name}: unknown user type")
        legal = kind == shape.legal_person
        mapping = shape.legal_fields if legal else shape.person_fields
        fields = {
            field: str(user[name])
            for field, name in mapping.items()
            if user.get(name) not in (None, "") and not isinstance(user[name], dict | list)
        }
        level = self._level(user)
        # Level 1 is self-declared: the platform vouches for identifiers from level 2 on.
        vouched = self.config.verified if _RANK[level] >= 2 else frozenset()
        return Identity(
            provider_id=self.id,
            subject=f"legal:{subject}" if legal else str(subject),
            verified=frozenset(f for f in vouched if f in fields),
            assurance=level,
            raw=dict(user),
            **fields,
        )

    async def check(self) -> str:
        try:
            response = await self._http.get(f"{self.config.base_url}{self.config.paths.login}")
        except httpx.HTTPError as error:
            raise ProviderUnavailable(
                self.config.name, f"platform unreachable ({type(error).__name__})"
            ) from error
        if response.status_code >= 400:  # a wrong address answers too
            raise ProviderUnavailable(
                self.config.name, f"platform login page answered {response.status_code}"
            )
        return f"platform login page answered {response.status_code}"

    async def aclose(self) -> None:
        await self._http.aclose()
