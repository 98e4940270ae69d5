"""Department APIs registered as resources (RFC 8707), read on the token path from an
in-process snapshot: they are few and change rarely."""

from __future__ import annotations

from store.clock import Clock
from store.records import Resource
from store.resources import ResourceStore


class ResourceService:
    def __init__(self, store: ResourceStore, clock: Clock, cache_seconds: float) -> None:
        self._store = store
        self._clock = clock
        self._cache_seconds = cache_seconds
        self._snapshot: dict[str, Resource] = {}
        self._fresh_until = float("-inf")

    async def snapshot(self) -> dict[str, Resource]:
        """Every resource by audience; changes made elsewhere show after ``cache_seconds``."""
        now = self._clock.now()
        if now >= self._fresh_until:
            self._snapshot = {r.audience: r for r in await self._store.list()}
            self._fresh_until = now + self._cache_seconds
        return self._snapshot

    async def list(self) -> list[Resource]:
        return await self._store.list()

    def forget(self) -> None:
        self._fresh_until = float("-inf")
