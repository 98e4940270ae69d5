"""Scopes as people read them: who you are first, then what you share, then what the app may do
for you, and access that outlives the visit last (never alphabetical)."""

from __future__ import annotations

from collections.abc import Iterable

from gateway.pages.render import Messages

_IDENTITY = ("openid", "profile", "phone", "email")
_LONG_LIVED = ("offline_access",)


def _rank(scope: str) -> tuple[int, int, str]:
    if scope in _IDENTITY:
        return (0, _IDENTITY.index(scope), scope)
    if scope in _LONG_LIVED:
        return (2, _LONG_LIVED.index(scope), scope)
    return (1, 0, scope)


def ordered(scopes: Iterable[str]) -> list[str]:
    return sorted(dict.fromkeys(scopes), key=_rank)


def labels(t: Messages, scopes: Iterable[str]) -> list[str]:
    """The scopes' labels in the order above; a scope without a label shows its name."""
    return [t.get(f"scope_{scope}", scope) for scope in ordered(scopes)]
