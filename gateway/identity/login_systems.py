"""The configured department login systems: stored encrypted, opened once per instance, listed
on the sign-in page in their configured order.

One broken login system never takes the others down: a stored config that can no longer be read,
validated (a CA file deleted since) or opened is kept apart as unavailable, with its reason, and
so is one whose upstream just failed, for a while; each is logged once, when it breaks."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import Any

from gateway.identity.errors import AlreadyExists, InvalidInput
from gateway.identity.federation import ProviderTrust
from keys.master import MasterKey
from providers.base import PasswordProvider, ProviderConfig, Site, SiteMaker
from providers.registry import UnknownKind, ValidationError, parse_config
from store.clock import Clock
from store.errors import Conflict
from store.providers import ProviderStore

_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,31}$")
_CACHE_SECONDS = 30.0
_DOWN_SECONDS = 30.0  # an upstream that failed is shown unavailable this long (or until it works)
log = logging.getLogger("yihaotong.departments")


class Broken(Exception):
    """A stored config that cannot be used; the message names the field, never a value."""


@dataclass(frozen=True)
class Unavailable:
    """A login system that cannot be used now, and why."""

    id: str
    type: str
    name: str
    position: int
    error: str


def validation_problem(error: ValidationError) -> tuple[str, str]:
    """The field (``config.<name>``) and the message of a config's first problem."""
    first = error.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return (f"config.{where}" if where else "config"), first["msg"]


def _label(data: Any, provider_id: str) -> tuple[str, int]:
    """The name and position of a config that did not load, as far as they can be read."""
    if not isinstance(data, dict):
        return provider_id, 100
    name, position = data.get("name"), data.get("position")
    return (
        name.strip() if isinstance(name, str) and name.strip() else provider_id,
        position if isinstance(position, int) and not isinstance(position, bool) else 100,
    )


def _no_site(provider_id: str) -> Site:
    raise Broken("this gateway serves no SAML service provider", None)


@dataclass
class LoginSystem:
    id: str
    config: ProviderConfig
    provider: Any

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def position(self) -> int:
        return self.config.position

    @property
    def trust(self) -> ProviderTrust:
        return ProviderTrust(
            trusted_for=frozenset(self.config.trusted_for), assurance=self.config.assurance
        )

    @property
    def takes_passwords(self) -> bool:
        return isinstance(self.provider, PasswordProvider)


class LoginSystemService:
    def __init__(
        self, store: ProviderStore, master_key: MasterKey, clock: Clock, site: SiteMaker = _no_site
    ) -> None:
        self._store = store
        self._site = site
        self._master = master_key
        self._clock = clock
        # (until, usable, broken, disabled ids): usable and broken include the disabled
        self._loaded: tuple[float, list[LoginSystem], list[Unavailable], set[str]] | None = None
        self._opened: dict[str, tuple[str, LoginSystem]] = {}  # id -> (sealed config, opened)
        self._reported: dict[str, str] = {}  # id -> the problem last logged
        self._down: dict[str, tuple[float, str]] = {}  # id -> (until, why) after an upstream failed

    def _config(self, provider_id: str, kind: str, sealed: str) -> tuple[ProviderConfig, Any]:
        """The validated config of a stored row (files it names are checked again), and the data
        it came from; raises Broken saying why not."""
        data: Any = None
        try:
            data = json.loads(self._master.decrypt(sealed, f"provider:{provider_id}"))
            return parse_config(kind, data), data
        except UnknownKind as error:
            raise Broken(f"type: {error}", data) from error
        except ValidationError as error:
            field, message = validation_problem(error)
            raise Broken(f"{field}: {message}", data) from error
        except Exception as error:  # undecryptable or unreadable: the row, not the page
            raise Broken(
                f"the stored config cannot be read ({type(error).__name__})", data
            ) from error

    def _report(self, provider_id: str, problem: str | None) -> None:
        """Log a login system's problem once, when it starts (or changes), and its recovery."""
        before = self._reported.get(provider_id)
        if problem == before:
            return
        if problem is None:
            del self._reported[provider_id]
            log.info(
                "department login system available again",
                extra={"fields": {"event": "provider.available", "provider": provider_id}},
            )
            return
        self._reported[provider_id] = problem
        log.warning(
            "department login system unavailable",
            extra={
                "fields": {
                    "event": "provider.unavailable",
                    "provider": provider_id,
                    "reason": problem,
                }
            },
        )

    async def add(self, provider_id: str, kind: str, data: dict[str, Any]) -> ProviderConfig:
        if not _ID.match(provider_id) or provider_id == "local":
            raise InvalidInput("id", "2 to 32 of a-z, 0-9 and -, and not 'local'")
        try:
            config = parse_config(kind, data)
        except UnknownKind as error:
            raise InvalidInput("type", str(error)) from error
        except ValidationError as error:
            raise InvalidInput(*validation_problem(error)) from error
        try:  # what cannot be opened is not stored either
            await _release(
                LoginSystem(provider_id, config, config.open_at(provider_id, self._site))
            )
        except Exception as error:
            raise InvalidInput("config", f"cannot be opened ({type(error).__name__})") from error
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

    async def set_disabled(self, provider_id: str, disabled: bool) -> bool:
        """Disable (or enable again) a login system; False when there is none."""
        self._loaded = None
        return await self._store.set_disabled(provider_id, disabled)

    async def disabled(self) -> set[str]:
        """The ids of the login systems an administrator disabled."""
        await self._load()
        return self._loaded[3] if self._loaded else set()

    async def all(self) -> list[LoginSystem]:
        """Every usable, enabled department, in sign-in page order (cached briefly per
        instance)."""
        usable, _ = await self._load()
        off = await self.disabled()
        return [d for d in usable if d.id not in off]

    async def unavailable(self) -> list[Unavailable]:
        """The login systems that cannot be used now, in sign-in page order: their stored config
        is broken, or their upstream failed a moment ago."""
        off = await self.disabled()
        broken = [b for b in (await self._load())[1] if b.id not in off]
        now = self._clock.now()
        self._down = {i: down for i, down in self._down.items() if down[0] > now}
        down = [
            Unavailable(d.id, d.config.type, d.name, d.config.position, self._down[d.id][1])
            for d in await self.all()
            if d.id in self._down
        ]
        return sorted([*broken, *down], key=lambda u: (u.position, u.name))

    async def listing(self) -> list[LoginSystem | Unavailable]:
        """Every stored department, usable or not, enabled or not, in sign-in page order."""
        usable, broken = await self._load()
        every: list[LoginSystem | Unavailable] = [*usable, *broken]
        return sorted(every, key=lambda d: (d.position, d.name))

    def mark_down(self, provider_id: str, reason: str) -> None:
        """Its upstream just failed: shown unavailable for a while (logged once)."""
        self._down[provider_id] = (self._clock.now() + _DOWN_SECONDS, reason)
        self._report(provider_id, reason)

    def mark_up(self, provider_id: str) -> None:
        """Its upstream answered again."""
        if self._down.pop(provider_id, None) is not None:
            self._report(provider_id, None)

    async def _load(self) -> tuple[list[LoginSystem], list[Unavailable]]:
        now = self._clock.now()
        if self._loaded is None or self._loaded[0] <= now:
            rows = await self._store.all()
            off = await self._store.disabled()
            opened: dict[str, tuple[str, LoginSystem]] = {}
            broken: list[Unavailable] = []
            for provider_id, kind, sealed in rows:
                try:
                    opened[provider_id] = (sealed, self._opened_for(provider_id, kind, sealed))
                except Broken as error:
                    problem, data = str(error.args[0]), error.args[1]
                    broken.append(
                        Unavailable(provider_id, kind, *_label(data, provider_id), problem)
                    )
                    self._report(provider_id, problem)
                else:
                    if provider_id in self._reported and provider_id not in self._down:
                        self._report(provider_id, None)  # its config was repaired
            for provider_id, (sealed, login_system) in self._opened.items():
                if provider_id not in opened or opened[provider_id][0] != sealed:
                    await _release(login_system)  # removed, changed or broken: its pool goes
            self._opened = opened
            login_systems = sorted(
                (d for _, d in opened.values()), key=lambda d: (d.config.position, d.name)
            )
            self._loaded = (now + _CACHE_SECONDS, login_systems, broken, off)
        return self._loaded[1], self._loaded[2]

    def _opened_for(self, provider_id: str, kind: str, sealed: str) -> LoginSystem:
        """The opened department of a row: the one already open while its config is unchanged
        and still valid, else opened afresh; raises Broken."""
        config, data = self._config(provider_id, kind, sealed)
        kept = self._opened.get(provider_id)
        if kept is not None and kept[0] == sealed:
            return kept[1]  # unchanged: keep its connections
        try:
            return LoginSystem(provider_id, config, config.open_at(provider_id, self._site))
        except Exception as error:
            raise Broken(f"cannot be opened ({type(error).__name__})", data) from error

    async def close(self) -> None:
        """Release what opened providers hold (database pools)."""
        for _, login_system in self._opened.values():
            await _release(login_system)
        self._opened, self._loaded = {}, None

    async def get(self, provider_id: str) -> LoginSystem | None:
        """The usable department ``provider_id`` (None when there is none, or it is broken
        or disabled)."""
        return next((d for d in await self.all() if d.id == provider_id), None)

    async def broken(self, provider_id: str) -> Unavailable | None:
        """Why the stored, enabled department ``provider_id`` cannot be used, if it cannot."""
        off = await self.disabled()
        found = (u for u in (await self._load())[1] if u.id == provider_id and u.id not in off)
        return next(found, None)

    async def stored(self, provider_id: str) -> LoginSystem | Unavailable | None:
        """The stored department ``provider_id``, usable or not, enabled or not (for its
        administrators)."""
        return next((d for d in await self.listing() if d.id == provider_id), None)


async def _release(login_system: LoginSystem) -> None:
    if hasattr(login_system.provider, "aclose"):
        await login_system.provider.aclose()
