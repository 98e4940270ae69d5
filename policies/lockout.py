"""Failed-sign-in lockout: per sign-in name and per client IP, fixed windows, and a per-device
limit for browsers that signed in to the name before.

Counting by the name typed (existing or not) keeps lockout from revealing which accounts exist.
A name locked by a stranger's guesses would lock its owner out too, so a browser holding a
device cookie for the name (OWASP's "device cookies") passes the per-name limit and is held to
a limit of its own instead; once that is reached, it is treated as any other browser.
"""

from __future__ import annotations

from dataclasses import dataclass

from policies.accounts import canonical_username


@dataclass(frozen=True)
class LockoutRules:
    account_failures: int = 5  # wrong passwords for one sign-in name in a window...
    ip_failures: int = 30  # ...or from one address, across names
    device_failures: int = 5  # ...or through one device cookie, which then no longer passes
    window_seconds: int = 900  # every counter runs for this long from its first failure


@dataclass(frozen=True)
class LockoutDecision:
    locked: bool
    reason: str | None = None  # "account" or "ip"


def sign_in_name(username: str, login_system: str | None = None) -> str:
    """The name failures are counted under: the canonical username, after the id of the
    department's login system it was typed for (None: 一号通's own accounts)."""
    name = canonical_username(username)
    return name if login_system is None else f"{login_system}:{name}"


def device_trusted(device_failures: int, rules: LockoutRules) -> bool:
    """Whether a valid device cookie still passes the per-name limit, given its own failures."""
    return device_failures < rules.device_failures


def lockout_decision(
    account_failures: int, ip_failures: int, rules: LockoutRules, *, trusted_device: bool = False
) -> LockoutDecision:
    """Locked once a counter reached its limit; the lock ends with the counter's window. A
    trusted device is not held to the per-name counter (``account_failures`` is ignored)."""
    if not trusted_device and account_failures >= rules.account_failures:
        return LockoutDecision(True, "account")
    if ip_failures >= rules.ip_failures:
        return LockoutDecision(True, "ip")
    return LockoutDecision(False)
