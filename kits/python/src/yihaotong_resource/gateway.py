"""The gateway as the API sees it: its discovery document (OIDC Discovery 1.0 §4) and its
JWKS, cached; the JWKS is fetched again for a ``kid`` it does not hold, at most once every
``jwks_min_refresh`` seconds, so forged kids cannot make the API hammer the gateway."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from yihaotong_resource.config import ResourceConfig


class GatewayUnavailable(Exception):
    """The gateway's discovery document or keys could not be fetched."""


class Gateway:
    def __init__(self, config: ResourceConfig, http: httpx.AsyncClient | None = None) -> None:
        self._config = config
        self._http = http or httpx.AsyncClient(timeout=5.0)
        self._metadata: dict[str, Any] | None = None
        self._keys: dict[str, dict[str, Any]] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._lock = asyncio.Lock()
        self.jwks_fetches = 0
        self.jwks_attempts = 0

    @property
    def http(self) -> httpx.AsyncClient:
        return self._http

    async def close(self) -> None:
        await self._http.aclose()

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            response = await self._http.get(url)
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, ValueError) as error:
            raise GatewayUnavailable(f"{url}: {error}") from error
        if not isinstance(document, dict):
            raise GatewayUnavailable(f"{url}: not a JSON object")
        return document

    async def metadata(self) -> dict[str, Any]:
        if self._metadata is None:
            url = self._config.issuer.rstrip("/") + "/.well-known/openid-configuration"
            document = await self._get_json(url)
            if document.get("issuer") != self._config.issuer:
                raise GatewayUnavailable("the discovery document names another issuer")
            self._metadata = document
        return self._metadata

    async def key(self, kid: str | None) -> dict[str, Any] | None:
        """The JWK of ``kid`` (the only key when the token names none), or None."""
        if self._may_fetch(kid):
            async with self._lock:  # one fetch for all the requests that wait on it
                if self._may_fetch(kid):
                    await self._refresh()
        if self._fetched_at is None:  # the last attempt failed, moments ago
            raise GatewayUnavailable("the gateway's keys could not be fetched")
        if kid is None:
            return next(iter(self._keys.values())) if len(self._keys) == 1 else None
        return self._keys.get(kid)

    def _may_fetch(self, kid: str | None) -> bool:
        """Keys not fetched yet or without ``kid``, and no attempt (failed ones too) within
        ``jwks_min_refresh`` seconds."""
        if self._fetched_at is not None and kid in self._keys:
            return False
        recent = self._config.clock() - self._config.jwks_min_refresh
        return self._attempted_at is None or self._attempted_at <= recent

    async def _refresh(self) -> None:
        self._attempted_at = self._config.clock()
        self.jwks_attempts += 1
        jwks = await self._get_json((await self.metadata())["jwks_uri"])
        self._fetched_at = self._config.clock()
        self.jwks_fetches += 1
        keys = [key for key in jwks.get("keys", []) if isinstance(key, dict)]
        self._keys = {key.get("kid"): key for key in keys if key.get("use", "sig") == "sig"}
