"""Failed-sign-in lockout: per account name and per client IP, fixed windows.

Counting by the name typed (existing or not) keeps lockout from revealing which accounts exist.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LockoutRules:
    account_failures: int = 5  # wrong passwords for one account name in a window...
    ip_failures: int = 30  # ...or from one address, across names
    window_seconds: int = 900  # both counters run for this long from the first failure


@dataclass(frozen=True)
class LockoutDecision:
    locked: bool
    reason: str | None = None  # "account" or "ip"


def lockout_decision(
    account_failures: int, ip_failures: int, rules: LockoutRules
) -> LockoutDecision:
    """Locked once a counter reached its limit; the lock ends with the counter's window."""
    if account_failures >= rules.account_failures:
        return LockoutDecision(True, "account")
    if ip_failures >= rules.ip_failures:
        return LockoutDecision(True, "ip")
    return LockoutDecision(False)
