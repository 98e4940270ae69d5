"""Which CAS app a ``service`` belongs to: the apps of protocol ``cas`` and their registered
service URLs, read from the database and kept for ``client_cache_seconds`` like client records."""

from __future__ import annotations

import asyncio

import httpx
from starlette.requests import Request

from gateway.cas.tickets import Tickets
from gateway.server.services import Services
from policies.cas_services import PREFIX, service_matches
from store.records import AuditEvent, Client

CALLBACK_TIMEOUT = 5.0


class CasApps:
    def __init__(self, services: Services) -> None:
        self._services = services
        self._apps: list[Client] = []
        self._until = float("-inf")
        self._loaded = float("-inf")
        self._lock = asyncio.Lock()
        settings = services.settings
        self.tickets = Tickets(
            services.expiring, settings.cas_ticket_ttl, settings.session_max_seconds
        )
        # Made at the first proxy callback: its TLS context (the CA bundle) costs a startup
        # that most gateways never need.
        self._http: httpx.AsyncClient | None = None

    @property
    def http(self) -> httpx.AsyncClient:
        """For proxy callbacks (§2.5.4): certificates verified, redirects not followed."""
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=CALLBACK_TIMEOUT, follow_redirects=False)
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()

    async def _current(self, refresh: bool = False) -> list[Client]:
        clock = self._services.clock
        if clock.now() < self._until and not refresh:
            return self._apps
        async with self._lock:
            if clock.now() >= self._until or (refresh and clock.now() - self._loaded >= 1.0):
                every = await self._services.clients.list()
                self._apps = [c for c in every if c.protocol == "cas"]
                self._loaded = clock.now()
                self._until = self._loaded + self._services.settings.client_cache_seconds
        return self._apps

    async def for_service(self, service: str) -> Client | None:
        """The app whose service URLs take ``service``: an exact URL before any prefix, the
        longest prefix before shorter ones. A miss reads the apps again (at most once a
        second), so an app registered a moment ago is found. A service that several apps
        take belongs to none of them (registration refuses such overlaps; one from before
        that check must not hand the service to whichever app sorts first)."""
        found, matching = self._find(service, await self._current())
        if found is None:
            found, matching = self._find(service, await self._current(refresh=True))
        if len(matching) > 1:
            await self._services.audit.record(
                AuditEvent(
                    "cas.service_ambiguous",
                    outcome="denied",
                    check="service",
                    details={"service": service, "client_ids": sorted(matching)},
                )
            )
            return None
        if found is None:
            return None
        # The record as the client cache has it now: an app changed a moment ago may no
        # longer take the service, or may have left CAS.
        current = await self._services.clients.get(found.client_id)
        if current is None or current.protocol != "cas":
            return None
        return current if service_matches(service, current.service_urls) else None

    @staticmethod
    def _find(service: str, apps: list[Client]) -> tuple[Client | None, set[str]]:
        """The best app for ``service`` and the ids of every app that takes it."""
        best: tuple[int, Client] | None = None
        matching: set[str] = set()
        for client in apps:
            for entry in client.service_urls:
                if not service_matches(service, (entry,)):
                    continue
                matching.add(client.client_id)
                rank = 10**6 if not entry.endswith(PREFIX) else len(entry)
                if best is None or rank > best[0]:
                    best = (rank, client)
        return (None if best is None else best[1]), matching


def cas_apps(request: Request) -> CasApps:
    return request.app.state.cas_apps
