"""The configured department login systems: stored encrypted, opened once per instance, listed
on the sign-in page in their configured order."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from gateway.errors import AlreadyExists, InvalidInput
from gateway.federation import ProviderTrust
from keys.master import MasterKey
from providers.base import PasswordProvider, ProviderConfig
from providers.registry import UnknownKind, ValidationError, parse_config
from store.clock import Clock
from store.errors import Conflict
from store.providers import ProviderStore

_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,31}$")
_CACHE_SECONDS = 30.0


@dataclass
class Department:
    id: str
    config: ProviderConfig
    provider: Any

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def trust(self) -> ProviderTrust:
        return ProviderTrust(
            trusted_for=frozenset(self.config.trusted_for), assurance=self.config.assurance
        )

    @property
    def takes_passwords(self) -> bool:
        return isinstance(self.provider, PasswordProvider)


class DepartmentService:
    def __init__(self, store: ProviderStore, master_key: MasterKey, clock: Clock) -> None:
        self._store = store
        self._master = master_key
        self._clock = clock
        self._loaded: tuple[float, list[Department]] | None = None
        self._opened: dict[str, tuple[str, Department]] = {}  # id -> (sealed config, opened)

    def _open(self, provider_id: str, kind: str, sealed: str) -> Department:
        data = json.loads(self._master.decrypt(sealed, f"provider:{provider_id}"))
        config = parse_config(kind, data)
        return Department(provider_id, config, config.open(provider_id))

    async def add(self, provider_id: str, kind: str, data: dict[str, Any]) -> ProviderConfig:
        if not _ID.match(provider_id) or provider_id == "local":
            raise InvalidInput("id", "2 to 32 of a-z, 0-9 and -, and not 'local'")
        try:
            config = parse_config(kind, data)
        except UnknownKind as error:
            raise InvalidInput("type", str(error)) from error
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "config"
            raise InvalidInput(f"config.{where}", first["msg"]) from error
        sealed = self._master.encrypt(config.model_dump_json().encode(), f"provider:{provider_id}")
        try:
            await self._store.add(provider_id, kind, sealed, self._clock.now())
        except Conflict as error:
            raise AlreadyExists(str(error)) from error
        self._loaded = None
        return config

    async def remove(self, provider_id: str) -> bool:
        self._loaded = None
        return await self._store.remove(provider_id)

    async def all(self) -> list[Department]:
        """Every department, in sign-in page order (cached briefly per instance)."""
        now = self._clock.now()
        if self._loaded is None or self._loaded[0] <= now:
            rows = await self._store.all()
            opened: dict[str, tuple[str, Department]] = {}
            for provider_id, kind, sealed in rows:
                kept = self._opened.get(provider_id)
                if kept is not None and kept[0] == sealed:
                    opened[provider_id] = kept  # unchanged: keep its connections
                else:
                    opened[provider_id] = (sealed, self._open(provider_id, kind, sealed))
            for provider_id, (sealed, department) in self._opened.items():
                if provider_id not in opened or opened[provider_id][0] != sealed:
                    await _release(department)  # removed or changed: its pool goes
            self._opened = opened
            departments = sorted(
                (d for _, d in opened.values()), key=lambda d: (d.config.position, d.name)
            )
            self._loaded = (now + _CACHE_SECONDS, departments)
        return self._loaded[1]

    async def close(self) -> None:
        """Release what opened providers hold (database pools)."""
        for _, department in self._opened.values():
            await _release(department)
        self._opened, self._loaded = {}, None

    async def get(self, provider_id: str) -> Department | None:
        return next((d for d in await self.all() if d.id == provider_id), None)


async def _release(department: Department) -> None:
    if hasattr(department.provider, "aclose"):
        await department.provider.aclose()
