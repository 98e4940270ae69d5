"""The limits on sending SMS codes, counted in the expiring store so that every instance sees
them: per number (a minute, a day), per client address, per browser. A send over any limit is
refused and taken back from the others, so a refusal never uses up anyone's allowance."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.identity.rate_limits import (
    SMS_CHALLENGE_AFTER,
    SMS_CHALLENGE_AFTER_PER_ADDRESS,
    SMS_PER_ADDRESS,
    SMS_PER_BROWSER,
    SMS_PER_NUMBER_DAY,
    SMS_PER_NUMBER_MINUTE,
    Limit,
    hit_all,
    retry_after,
)
from store import kv_keys
from store.kv import ExpiringStore, Step


@dataclass(frozen=True)
class SendCount:
    refused_by: str | None  # "number", "address" or "browser" when over a limit
    retry_after: int
    challenge_next: bool  # the next send from this browser or address needs a challenge
    challenge_now: bool  # this send needed one


class SmsLimits:
    def __init__(self, store: ExpiringStore) -> None:
        self._store = store

    def _counters(self, number: str, ip: str, browser: str) -> list[tuple[str, Limit, str]]:
        return [
            (kv_keys.sms_sends_per_number(number, "m"), SMS_PER_NUMBER_MINUTE, "number"),
            (kv_keys.sms_sends_per_number(number, "d"), SMS_PER_NUMBER_DAY, "number"),
            (kv_keys.sms_sends_per_address(ip), SMS_PER_ADDRESS, "address"),
            (kv_keys.sms_sends_per_browser(browser), SMS_PER_BROWSER, "browser"),
        ]

    async def count(self, number: str, ip: str, browser: str, *, solved: bool) -> SendCount:
        """Count a send to ``number`` (its blind index). ``solved``: a challenge was met; without
        one a send past SMS_CHALLENGE_AFTER is refused (and not counted)."""
        counters = self._counters(number, ip, browser)
        seen = await hit_all(self._store, [(key, limit) for key, limit, _ in counters])
        return await self.judge(number, ip, browser, seen, solved=solved)

    def count_steps(self, number: str, ip: str, browser: str) -> list[Step]:
        """``count``'s counting, for a caller's own round trip; ``judge`` then decides."""
        counters = self._counters(number, ip, browser)
        return [Step("incr", (key, limit.per, 1)) for key, limit, _ in counters]

    async def judge(
        self, number: str, ip: str, browser: str, seen: list[int], *, solved: bool
    ) -> SendCount:
        """``count`` once its counters stood at ``seen``: a refusal takes the send back."""
        counters = self._counters(number, ip, browser)
        over = [(c, n) for c, n in zip(counters, seen, strict=True) if not c[1].allows(n)]
        challenge_now = _crowded(seen[2], seen[3], 1) and not solved
        if over or challenge_now:
            await hit_all(self._store, [(key, limit) for key, limit, _ in counters], amount=-1)
        if over:
            waits = [await retry_after(self._store, key, limit) for (key, limit, _), _ in over]
            worst = max(range(len(over)), key=lambda i: waits[i])
            return SendCount(over[worst][0][2], waits[worst], True, False)
        challenge_next = _crowded(seen[2], seen[3], 0)
        return SendCount(None, 0, challenge_next, challenge_now)

    async def take_back(self, number: str, ip: str, browser: str) -> None:
        """Uncount a send that did not happen (the backend failed)."""
        counters = self._counters(number, ip, browser)
        await hit_all(self._store, [(key, limit) for key, limit, _ in counters], amount=-1)


def _crowded(address: int, browser: int, this_one: int) -> bool:
    """Whether the next send (``this_one`` 0) or this one (1, counted) needs a challenge."""
    return (
        browser - this_one >= SMS_CHALLENGE_AFTER
        or address - this_one >= SMS_CHALLENGE_AFTER_PER_ADDRESS
    )
