"""Counting password attempts for the lockout rules (``policies/lockout.py``), and clearing an
account's counters (the admin's unlock).

An attempt is counted before its password is checked, atomically, so parallel guesses each see
the ones before them. It is counted per address and either per sign-in name or, when the browser
holds a device cookie for the name that has not failed too often, per device cookie.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from gateway.identity.pii import PiiVault
from gateway.identity.rate_limits import (
    LOCKOUT,
    LOGIN_PER_ADDRESS,
    LOGIN_PER_DEVICE,
    LOGIN_PER_NAME,
    Limit,
    hit,
    hit_all,
    reset,
    retry_after,
)
from gateway.pages.device_cookies import DeviceCookies
from gateway.pages.federated_login import LOCAL
from gateway.server.services import Services
from keys.master import MasterKeyError
from policies.lockout import LockoutDecision, device_trusted, lockout_decision
from policies.lockout import sign_in_name as counted_name
from store import kv_keys
from store.identities import IdentityStore
from store.records import Account, AuditEvent

RULES = LOCKOUT


class Attempt:
    """One password attempt at the sign-in page: ``count`` it, ``decide``, then ``take_back``,
    ``failed`` or ``succeeded``."""

    def __init__(self, request: Request, provider_id: str, username: str) -> None:
        self._services: Services = request.app.state.services
        self._request = request
        self.name = counted_name(username, None if provider_id == LOCAL else provider_id)
        self._devices = DeviceCookies.of(self._services)
        self.device = self._devices.device_for(request, self.name)
        ip = request.client.host if request.client else "unknown"
        self._name_key = kv_keys.name_failures(self.name)
        self._ip_key = kv_keys.address_failures(ip)
        first: tuple[str, Limit] = (
            (kv_keys.device_failures(self.device), LOGIN_PER_DEVICE)
            if self.device
            else (self._name_key, LOGIN_PER_NAME)
        )
        self._counted = [first, (self._ip_key, LOGIN_PER_ADDRESS)]
        self._counts: dict[str, int] = {}
        self.trusted = False

    async def count(self) -> None:
        """Count the attempt: one round trip (it can go out with the page's other reads)."""
        counts = await hit_all(self._services.expiring, self._counted)
        self._counts = {key: n for (key, _), n in zip(self._counted, counts, strict=True)}

    def _before(self, key: str) -> int:
        return self._counts.get(key, 1) - 1  # failures counted before this attempt

    async def decide(self) -> LockoutDecision:
        if self.device is not None:
            self.trusted = device_trusted(self._before(self._counted[0][0]), RULES)
            if not self.trusted:
                # The device cookie failed too often itself: the name's limit applies again.
                self._counted.append((self._name_key, LOGIN_PER_NAME))
                self._counts[self._name_key] = await hit(
                    self._services.expiring, self._name_key, LOGIN_PER_NAME
                )
        return lockout_decision(
            self._before(self._name_key),
            self._before(self._ip_key),
            RULES,
            trusted_device=self.trusted,
        )

    async def retry_after(self, decision: LockoutDecision) -> int:
        """Seconds until the counter that locked ends its window."""
        if decision.reason == "account":
            return await retry_after(self._services.expiring, self._name_key, LOGIN_PER_NAME)
        return await retry_after(self._services.expiring, self._ip_key, LOGIN_PER_ADDRESS)

    @property
    def details(self) -> dict[str, Any]:
        """What the audit entries of this attempt say about its device cookie."""
        if self.device is None:
            return {}
        return {"device": "trusted" if self.trusted else "locked"}

    async def take_back(self) -> None:
        """The attempt was no wrong password (no transaction, the department was down ...)."""
        await hit_all(self._services.expiring, self._counted, -1)

    async def failed(self, username: str, provider_id: str) -> None:
        """A wrong password: the failure that locks a device cookie is audited."""
        if self.trusted and self._counts[self._counted[0][0]] == LOGIN_PER_DEVICE.count:
            await self._services.audit.record(
                AuditEvent(
                    "login.device_locked",
                    outcome="failure",
                    details={"username": username, "provider": provider_id},
                ),
                request=self._request,
            )

    async def succeeded(self) -> None:
        """A success is no failure. A trusted device's success leaves the name's counter alone:
        the owner signing in must not hand a stranger a fresh set of guesses."""
        store = self._services.expiring
        await asyncio.gather(
            reset(store, *(key for key, _ in self._counted if key != self._ip_key)),
            hit(store, self._ip_key, LOGIN_PER_ADDRESS, -1),
        )

    def remember_device(self, response: Response) -> None:
        """Give the browser a device cookie for the name it just signed in with."""
        self._devices.remember(self._request, response, self.name)


async def sign_in_names(services: Services, account: Account) -> set[str]:
    """Every sign-in name the account can be reached by: its own username, and in each linked
    department's login system the username it asserted, its subject and any migrated name."""
    names = {counted_name(account.username)}
    vault = PiiVault(services.master_key)
    for link in await IdentityStore(services.database).links_of(account.id):
        names.add(counted_name(link.subject, link.provider_id))
        try:
            asserted = json.loads(vault.open_json(link.last_attributes)).get("username")
        except (MasterKeyError, ValueError):
            asserted = None  # unreadable attributes: the subject is still cleared
        if isinstance(asserted, str) and asserted:
            names.add(counted_name(asserted, link.provider_id))
    for provider_id, username in await services.logins.migrated_of(account.id):
        names.add(counted_name(username, provider_id))
    return names


async def clear_failures(services: Services, account: Account) -> int:
    """Forget the failed sign-ins counted against every name of the account, and its wrong
    authenticator codes. Returns how many names were cleared."""
    names = await sign_in_names(services, account)
    keys = [kv_keys.name_failures(name) for name in names]
    await reset(services.expiring, *keys, kv_keys.otp_failures(account.id))
    return len(names)
