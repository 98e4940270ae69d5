"""Assurance levels (the `acr` values): L1 registered < L2 real-name verified < L3 verified in
person. Pure ordering helpers used by sign-in and by access policies."""

from __future__ import annotations

LEVELS = ("L1", "L2", "L3")
MFA_METHODS = frozenset({"otp", "sms", "hwk", "swk", "fpt", "face", "mfa"})  # RFC 8176 values


def rank(level: str | None) -> int:
    """0 for an unknown or missing level, so it never satisfies a requirement."""
    return LEVELS.index(level) + 1 if level in LEVELS else 0


def meets(level: str | None, minimum: str) -> bool:
    return rank(level) >= rank(minimum)


def stronger(*levels: str | None) -> str:
    known = [level for level in levels if level in LEVELS]
    return max(known, key=rank) if known else LEVELS[0]


def multi_factor(amr: frozenset[str]) -> bool:
    """A password plus another factor, or a method that is multi-factor by itself."""
    return "mfa" in amr or bool(amr & MFA_METHODS and len(amr) >= 2)
