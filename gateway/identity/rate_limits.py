"""Every rate limit and failure counter of the gateway, named here, and the one way each is
counted: a fixed window over the expiring store's atomic ``incr`` (the window starts with the
first event and is not extended), under a key from ``store.kv_keys``.

Not the ``limits`` library: its storages build their own Redis client from their own URL (a
second client to configure for TLS, Sentinel and Cluster beside ours), compose their own key
names (the admin's unlock clears ours), its limiters take no hit back for an attempt that was
no failure and need a second round trip to learn when a window ends, and its memory storage
reads the wall clock rather than our injected one. The store's ``incr`` is one round trip (a
Lua script) on Redis, Sentinel and Cluster alike, and atomic in memory.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass

from policies.lockout import LockoutRules
from store import kv_keys
from store.kv import ExpiringStore

LOCKOUT = LockoutRules()


@dataclass(frozen=True)
class Limit:
    """At most ``count`` events in a window of ``per`` seconds."""

    count: int
    per: float

    def allows(self, seen: int) -> bool:
        """Whether the ``seen``-th event of a window (this one included) is within the limit."""
        return seen <= self.count


# Wrong passwords, counted before the password is checked (policies/lockout.py decides).
LOGIN_PER_NAME = Limit(LOCKOUT.account_failures, per=LOCKOUT.window_seconds)
LOGIN_PER_ADDRESS = Limit(LOCKOUT.ip_failures, per=LOCKOUT.window_seconds)
LOGIN_PER_DEVICE = Limit(LOCKOUT.device_failures, per=LOCKOUT.window_seconds)
# Wrong authenticator codes per account, counted before the code is checked.
OTP_CODES = Limit(5, per=900)
# SMS codes: sends per number (a minute, a day), per address and per browser; wrong tries of
# one code. Past SMS_CHALLENGE_AFTER sends a browser (or, behind one address, a crowd) must
# solve a challenge first.
SMS_PER_NUMBER_MINUTE = Limit(1, per=60)
SMS_PER_NUMBER_DAY = Limit(10, per=86400)
SMS_PER_ADDRESS = Limit(30, per=3600)
SMS_PER_BROWSER = Limit(10, per=3600)
SMS_CHALLENGE_AFTER = 2
SMS_CHALLENGE_AFTER_PER_ADDRESS = 10
SMS_CODE_TRIES = Limit(5, per=300)
# Failed real-name checks per account and per address; wrong current passwords when changing it.
REAL_NAME_FAILURES = Limit(5, per=86400)
REAL_NAME_PER_ADDRESS = Limit(20, per=3600)
PASSWORD_CHANGE_FAILURES = Limit(5, per=900)
# admin.denied audit entries per caller, before one "suppressed" entry.
ADMIN_DENIALS = Limit(10, per=60)


async def hit(store: ExpiringStore, key: str, limit: Limit, amount: int = 1) -> int:
    """Count ``amount`` events (negative: take them back); the window's count after it."""
    return await store.incr(key, limit.per, amount=amount)


async def hit_all(
    store: ExpiringStore, counted: list[tuple[str, Limit]], amount: int = 1
) -> list[int]:
    """``hit`` on several counters at once (one round trip where the store can)."""
    return await store.incr_many(*((key, limit.per, amount) for key, limit in counted))


async def hit_keyed_then_shared(
    store: ExpiringStore, keyed: list[tuple[str, Limit]], shared: tuple[str, Limit]
) -> bool:
    """Count an event against its own counters (per address ...) first, and against the
    ``shared`` one (overall) only if they allow it: one key over its own limit cannot use up
    everyone's budget. Whether the event is within every limit."""
    seen = await hit_all(store, keyed)
    if not all(limit.allows(n) for (_, limit), n in zip(keyed, seen, strict=True)):
        return False
    key, limit = shared
    return limit.allows(await hit(store, key, limit))


async def reset(store: ExpiringStore, *keys: str) -> None:
    """Forget the counters (a success, or an administrator's unlock)."""
    await asyncio.gather(*(store.delete(key) for key in keys))


async def retry_after(store: ExpiringStore, key: str, limit: Limit) -> int:
    """Whole seconds until the counter's window ends."""
    return math.ceil(await store.ttl(key) or limit.per)


# Requests a client makes of the token, introspection and UserInfo endpoints, a minute.
CLIENT_WINDOW_SECONDS = 60


async def client_over_limit(
    store: ExpiringStore, endpoint: str, client_id: str, per_minute: int
) -> int | None:
    """Count one request of ``client_id`` at ``endpoint`` (its own counter: a client over its
    limit uses up no other's); None when within ``per_minute``, else whole seconds to wait."""
    limit = Limit(per_minute, per=CLIENT_WINDOW_SECONDS)
    key = kv_keys.client_requests(endpoint, client_id)
    if limit.allows(await hit(store, key, limit)):
        return None
    return max(1, await retry_after(store, key, limit))


# RFC 8628 §5.1: user codes typed at /device, per address and overall (a user code has 20^8
# values, so even the overall limit over a code's life leaves a guess at well under 1e-5).
DEVICE_USER_CODES_PER_ADDRESS = Limit(10, per=300)
DEVICE_USER_CODES_OVERALL = Limit(600, per=60)
# Scan to sign in: tickets a browser may make, and scans one person's app may make.
SCAN_TICKETS_PER_BROWSER = Limit(30, per=600)
SCANS_PER_ACCOUNT = Limit(10, per=600)
