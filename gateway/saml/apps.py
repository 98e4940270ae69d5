"""The SAML apps (protocol ``saml``) by their SP entity ID, and the pysaml2 server that knows
their metadata: rebuilt when the registered apps change, read again at most once a second when
an unknown SP asks (an app registered a moment ago is found)."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request

from gateway.saml import idp
from gateway.saml.sp_metadata import entity_id
from gateway.server.services import Services
from store.records import Client


class SamlApps:
    def __init__(self, services: Services) -> None:
        self._services = services
        self._by_entity: dict[str, Client] = {}
        self._server: Any = None
        self._strict: Any = None
        self._version: tuple[tuple[str, float], ...] | None = None
        self._until = float("-inf")
        self._loaded = float("-inf")
        self._lock = asyncio.Lock()
        self._keys = None

    async def _refresh(self, force: bool) -> None:
        clock, settings = self._services.clock, self._services.settings
        async with self._lock:
            stale = clock.now() >= self._until
            if not (stale or (force and clock.now() - self._loaded >= 1.0)):
                return
            apps = [c for c in await self._services.clients.list() if c.protocol == "saml"]
            self._loaded = clock.now()
            self._until = self._loaded + settings.client_cache_seconds
            version = tuple((c.client_id, c.updated_at) for c in apps)
            if version == self._version and self._server is not None:
                return
            built = await asyncio.to_thread(self._build, apps)
            self._server, self._strict, self._by_entity = built
            self._version = version

    def _build(self, apps: list[Client]) -> tuple[Any, Any, dict[str, Client]]:
        settings = self._services.settings
        if self._keys is None:
            self._keys = idp.key_pair(settings.data_dir / "saml", settings.issuer)
        claims: dict[str, list[Client]] = {}
        for client in apps:
            if sp := entity_id(client.sp_metadata):
                claims.setdefault(sp, []).append(client)
        # An entity ID two apps claim (registered before registration refused it) answers as
        # unknown: neither app's policy may speak for the other.
        by_entity = {sp: found[0] for sp, found in claims.items() if len(found) == 1}
        metadata = [by_entity[sp].sp_metadata for sp in sorted(by_entity)]
        config = idp.idp_config(settings.issuer, self._keys, metadata)
        # pysaml2 checks a request's signature only when its server requires one: requests
        # that are signed, or whose SP signs them all, go to a server that does.
        strict = idp.build_server({**config, "service": idp.requiring_signatures(config)})
        return idp.build_server(config), strict, by_entity

    async def server(self, signed: bool = False) -> Any:
        """pysaml2's server; ``signed``: the one that requires (and so checks) signatures."""
        await self._refresh(force=False)
        return self._strict if signed else self._server

    async def for_entity(self, sp: str) -> Client | None:
        """The app whose metadata has entity ID ``sp``."""
        await self._refresh(force=False)
        if sp not in self._by_entity:
            await self._refresh(force=True)
        client = self._by_entity.get(sp)
        if client is not None:
            current = await self._services.clients.get(client.client_id)
            client = current if current is not None and current.protocol == "saml" else None
        return client


def saml_apps(request: Request) -> SamlApps:
    return request.app.state.saml_apps
