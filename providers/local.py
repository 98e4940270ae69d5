"""Yihaotong's own passwords through the same protocol as every department: the gateway hands in
how to check one, so this module needs nothing of the gateway's."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from providers.base import Identity


class LocalAccount(Protocol):
    id: str
    username: str
    name: str | None
    phone: str | None
    email: str | None


Authenticate = Callable[[str, str], Awaitable[LocalAccount | None]]


class LocalProvider:
    """The identity of a local account is the account itself (no linking needed)."""

    def __init__(self, provider_id: str, authenticate: Authenticate) -> None:
        self.id = provider_id
        self._authenticate = authenticate

    async def login(self, username: str, password: str) -> Identity | None:
        account = await self._authenticate(username, password)
        if account is None:
            return None
        return Identity(
            provider_id=self.id,
            subject=account.id,
            username=account.username,
            name=account.name,
            phone=account.phone,
            email=account.email,
        )
