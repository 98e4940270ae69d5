"""A department's CAS server (CAS 2.0 /serviceValidate, 3.0 /p3/serviceValidate with attributes).

CAS has no state parameter, so the gateway's state rides in the service URL, which must be sent
back identically when the ticket is validated."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal
from urllib.parse import urlencode

import httpx
from pydantic import Field, field_validator

from providers.base import (
    Identity,
    ProviderConfig,
    ProviderError,
    ProviderUnavailable,
    identity_mapping,
    text_values,
    web_url,
)

try:
    from defusedxml import ElementTree
except ImportError as error:  # pragma: no cover - depends on the install
    raise ImportError("CAS providers need the cas extra: pip install 'yihaotong[cas]'") from error

_NS = "{http://www.yale.edu/tp/cas}"


class CasConfig(ProviderConfig):
    type: Literal["cas"] = "cas"
    server_url: str = Field(description="Base URL of the CAS server, e.g. https://cas.dept/cas")
    version: Literal["2.0", "3.0"] = "3.0"
    attributes: dict[str, str] = Field(
        default_factory=lambda: {"name": "cn", "email": "mail"},
        description="Identity field -> CAS attribute (CAS 3.0).",
    )

    @field_validator("server_url")
    @classmethod
    def _url(cls, value: str) -> str:
        # Tickets and attributes come back from here: https, a host, nothing after the path.
        return web_url(value).rstrip("/")

    @field_validator("attributes")
    @classmethod
    def _known_fields(cls, value: dict[str, str]) -> dict[str, str]:
        return identity_mapping(text_values(value))

    def open(self, provider_id: str) -> CasProvider:
        return CasProvider(provider_id, self)


def _service(callback_url: str, state: str) -> str:
    return f"{callback_url}?{urlencode({'state': state})}"


class CasProvider:
    def __init__(self, provider_id: str, config: CasConfig) -> None:
        self.id = provider_id
        self.config = config
        self._http = httpx.AsyncClient(timeout=config.timeout_seconds, follow_redirects=False)

    async def login_url(self, callback_url: str, state: str, nonce: str, code_verifier: str) -> str:
        service = _service(callback_url, state)
        return f"{self.config.server_url}/login?{urlencode({'service': service})}"

    async def callback(
        self, callback_url: str, params: Mapping[str, str], nonce: str, code_verifier: str
    ) -> Identity:
        ticket, state = params.get("ticket"), params.get("state")
        if not ticket or not state:
            raise ProviderError(f"{self.config.name}: sign-in was not completed")
        path = "/p3/serviceValidate" if self.config.version == "3.0" else "/serviceValidate"
        query = {"service": _service(callback_url, state), "ticket": ticket}
        try:
            response = await self._http.get(f"{self.config.server_url}{path}", params=query)
            response.raise_for_status()
            root = ElementTree.fromstring(response.content)
        except httpx.HTTPError as error:
            raise ProviderUnavailable(
                self.config.name, f"CAS server unreachable ({type(error).__name__})"
            ) from error
        except (ElementTree.ParseError, ValueError) as error:  # defusedxml refusals are ValueErrors
            raise ProviderError(f"{self.config.name}: unreadable ticket validation") from error
        success = root.find(f"{_NS}authenticationSuccess")
        user = success.findtext(f"{_NS}user") if success is not None else None
        if not user:
            raise ProviderError(f"{self.config.name}: the ticket was not accepted")
        found = success.find(f"{_NS}attributes")
        children = list(found) if found is not None else []
        attributes = {child.tag.removeprefix(_NS): (child.text or "") for child in children}
        fields = {
            field: attributes[name]
            for field, name in self.config.attributes.items()
            if attributes.get(name)
        }
        fields.setdefault("username", user)
        return Identity(
            provider_id=self.id,
            subject=user,
            verified=frozenset(f for f in self.config.verified if f in fields),
            raw=attributes,
            **fields,
        )

    async def check(self) -> str:
        try:
            response = await self._http.get(f"{self.config.server_url}/login")
        except httpx.HTTPError as error:
            raise ProviderUnavailable(
                self.config.name, f"CAS server unreachable ({type(error).__name__})"
            ) from error
        if response.status_code >= 400:  # a wrong address answers too
            raise ProviderUnavailable(
                self.config.name, f"CAS login page answered {response.status_code}"
            )
        return f"CAS login page answered {response.status_code}"

    async def aclose(self) -> None:
        await self._http.aclose()
