"""Opaque access tokens, through the gateway's introspection endpoint (RFC 7662 §2) with the
API's own client credentials. Answers are reused for ``introspection_cache`` seconds at most,
never past the token's ``exp``; the cache is keyed by the token's SHA-256, never the token."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx

from yihaotong_resource.config import ResourceConfig
from yihaotong_resource.errors import InvalidToken
from yihaotong_resource.gateway import Gateway, GatewayUnavailable

_MAX_ENTRIES = 10_000


class Introspector:
    def __init__(self, config: ResourceConfig, gateway: Gateway) -> None:
        self._config = config
        self._gateway = gateway
        self._cache: dict[str, tuple[dict[str, Any] | None, float]] = {}
        self.calls = 0

    async def claims(self, token: str) -> dict[str, Any]:
        """The active token's claims, or InvalidToken."""
        key = hashlib.sha256(token.encode()).hexdigest()
        now = self._config.clock()
        cached = self._cache.get(key)
        if cached is not None and cached[1] > now:
            answer = cached[0]
        else:
            answer = await self._ask(token)
            until = now + self._config.introspection_cache
            if answer is not None and isinstance(answer.get("exp"), int | float):
                until = min(until, answer["exp"])
            if len(self._cache) >= _MAX_ENTRIES:
                self._cache = {k: v for k, v in self._cache.items() if v[1] > now}
            self._cache[key] = (answer, until)
        if answer is None:
            raise InvalidToken("The access token is not active.")
        return answer

    async def _ask(self, token: str) -> dict[str, Any] | None:
        config = self._config
        if not (config.client_id and config.client_secret):
            raise InvalidToken("This API accepts only JWT access tokens.")
        endpoint = (await self._gateway.metadata()).get("introspection_endpoint")
        if not endpoint:
            raise GatewayUnavailable("the gateway advertises no introspection endpoint")
        try:
            response = await self._gateway.http.post(
                endpoint,
                data={"token": token, "token_type_hint": "access_token"},
                auth=(config.client_id, config.client_secret),
                headers={"Accept": "application/json"},
            )
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError) as error:
            raise GatewayUnavailable(f"introspection failed: {error}") from error
        if not isinstance(body, dict) or body.get("active") is not True:
            return None
        if body.get("iss", config.issuer) != config.issuer or not _names(body, config.audience):
            return None
        if body.get("token_type") not in (None, "Bearer", "DPoP", "access_token"):
            return None  # a refresh token is not an access token
        return body


def _names(body: dict[str, Any], audience: str) -> bool:
    aud = body.get("aud")
    return audience in (aud if isinstance(aud, list) else [aud])
