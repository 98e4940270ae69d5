"""The in-process expiring store: the embedded default, correct for exactly one process."""

from __future__ import annotations

from store.clock import Clock, SystemClock
from store.kv import (
    SEPARATOR,
    SPENT,
    SPENT_AGAIN,
    UNSETTLED,
    ExpiringStoreError,
    Redemption,
    Step,
    check_ttl,
)

_SWEEP_EVERY = 1024  # writes between full sweeps of expired entries


class MemoryStore:
    """A dict with deadlines. Each method runs without awaiting, so on one event loop every
    operation is atomic."""

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock or SystemClock()
        self._data: dict[str, tuple[bytes | int | set[str], float]] = {}
        self._writes = 0
        self._ledgers: dict[str, dict[str, float]] = {}

    def _live(self, key: str) -> tuple[bytes | int | set[str], float] | None:
        entry = self._data.get(key)
        if entry is None:
            return None
        if entry[1] <= self._clock.now():
            del self._data[key]
            return None
        return entry

    def _write(self, key: str, value: bytes | int | set[str], ttl: float) -> None:
        check_ttl(ttl)
        self._data[key] = (value, self._clock.now() + ttl)
        self._writes += 1
        if self._writes % _SWEEP_EVERY == 0:
            now = self._clock.now()
            for stale in [k for k, (_, deadline) in self._data.items() if deadline <= now]:
                del self._data[stale]

    def _enter(self, ledger: str | None, key: str, ttl: float | None = None) -> None:
        if ledger is not None:
            deadline = self._data[key][1] if ttl is None else self._clock.now() + ttl
            self._ledgers.setdefault(ledger, {})[key] = deadline

    def _leave(self, ledger: str | None, key: str) -> None:
        # Only before its expiry in the ledger, as on Redis (which may precede the key's).
        entries = self._ledgers.get(ledger or "", {})
        if entries.get(key, 0.0) > self._clock.now():
            del entries[key]

    async def leave_ledger(self, ledger: str, key: str) -> None:
        self._ledgers.get(ledger, {}).pop(key, None)

    async def sweep_ledger(self, ledger: str, grace: float, limit: int) -> int:
        entries = self._ledgers.get(ledger, {})
        cutoff = self._clock.now() - grace
        expired = [key for key, deadline in entries.items() if deadline <= cutoff][:limit]
        for key in expired:
            del entries[key]
        return len(expired)

    async def issue(
        self, key: str, owner: str, value: bytes, ttl: float, ledger: str | None = None
    ) -> None:
        self._write(key, owner.encode() + SEPARATOR + value, ttl)
        self._enter(ledger, key)

    async def redeem(
        self, key: str, owner: str, spent_ttl: float, ledger: str | None = None
    ) -> Redemption:
        entry = self._live(key)
        if entry is None or not isinstance(entry[0], bytes):
            return Redemption("absent")
        raw, deadline = entry
        if raw.startswith(SPENT_AGAIN):
            return Redemption("reused", raw[len(SPENT_AGAIN) :])
        if raw.startswith(SPENT):
            marker = raw[len(SPENT) :]
            self._data[key] = (SPENT_AGAIN + marker, deadline)
            return Redemption("reused", marker)
        stored_owner, _, value = raw.partition(SEPARATOR)
        if stored_owner != owner.encode():
            return Redemption("foreign", None, deadline - self._clock.now())
        self._write(key, UNSETTLED, spent_ttl)
        self._leave(ledger, key)
        return Redemption("redeemed", value, deadline - self._clock.now())

    async def release(
        self, key: str, owner: str, value: bytes, ttl: float, ledger: str | None = None
    ) -> bool:
        entry = self._live(key)
        if entry is None or entry[0] != UNSETTLED:
            return False
        self._write(key, owner.encode() + SEPARATOR + value, ttl)
        self._enter(ledger, key)
        return True

    async def settle(self, key: str, marker: bytes, spent_ttl: float) -> bool:
        entry = self._live(key)
        again = (
            entry is not None and isinstance(entry[0], bytes) and entry[0].startswith(SPENT_AGAIN)
        )
        self._write(key, (SPENT_AGAIN if again else SPENT) + marker, spent_ttl)
        return again

    async def get_many(self, *keys: str) -> list[bytes | None]:
        return [await self.get(key) for key in keys]

    async def add_and_get(
        self, key: str, value: bytes, ttl: float, *keys: str
    ) -> tuple[bool, list[bytes | None]]:
        return await self.add(key, value, ttl), await self.get_many(*keys)

    async def get(self, key: str) -> bytes | None:
        entry = self._live(key)
        if entry is None:
            return None
        value = entry[0]
        if isinstance(value, set):
            raise ExpiringStoreError(f"value at {key!r} is a set")
        return str(value).encode() if isinstance(value, int) else value

    async def put(
        self,
        key: str,
        value: bytes,
        ttl: float,
        ledger: str | None = None,
        ledger_ttl: float | None = None,
    ) -> None:
        if ledger_ttl is not None:
            check_ttl(ledger_ttl)
        self._write(key, bytes(value), ttl)
        self._enter(ledger, key, ledger_ttl)

    async def put_many(self, *entries: tuple[str, bytes, float]) -> None:
        for _, _, ttl in entries:
            check_ttl(ttl)  # none written when one cannot be
        for key, value, ttl in entries:
            self._write(key, bytes(value), ttl)

    async def add(self, key: str, value: bytes, ttl: float) -> bool:
        if self._live(key) is not None:
            return False
        self._write(key, bytes(value), ttl)
        return True

    async def replace(self, key: str, value: bytes, ttl: float) -> bool:
        if self._live(key) is None:
            return False
        self._write(key, bytes(value), ttl)
        return True

    async def take(self, key: str, ledger: str | None = None) -> bytes | None:
        value = await self.get(key)
        self._data.pop(key, None)
        if value is not None:
            self._leave(ledger, key)
        return value

    async def delete(self, key: str) -> bool:
        existed = self._live(key) is not None
        self._data.pop(key, None)
        return existed

    async def many(self, *steps: Step) -> list[object]:
        return [await getattr(self, step.method)(*step.args) for step in steps]

    async def incr_many(self, *counters: tuple[str, float, int]) -> list[int]:
        return [await self.incr(key, ttl, amount) for key, ttl, amount in counters]

    async def incr(self, key: str, ttl: float, amount: int = 1) -> int:
        entry = self._live(key)
        if entry is None:
            self._write(key, amount, ttl)
            return amount
        current, deadline = entry
        if not isinstance(current, int):
            raise ExpiringStoreError(f"value at {key!r} is not a counter")
        self._data[key] = (current + amount, deadline)
        return current + amount

    async def set_add(self, key: str, member: str, ttl: float) -> None:
        entry = self._live(key)
        members = entry[0] if entry is not None else set()
        if not isinstance(members, set):
            raise ExpiringStoreError(f"value at {key!r} is not a set")
        members.add(member)
        self._write(key, members, ttl)

    async def set_remove(self, key: str, member: str) -> None:
        entry = self._live(key)
        if entry is not None and isinstance(entry[0], set):
            entry[0].discard(member)

    async def set_members(self, key: str) -> set[str]:
        entry = self._live(key)
        if entry is None:
            return set()
        if not isinstance(entry[0], set):
            raise ExpiringStoreError(f"value at {key!r} is not a set")
        return set(entry[0])

    async def ttl(self, key: str) -> float | None:
        entry = self._live(key)
        return None if entry is None else entry[1] - self._clock.now()

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        self._data.clear()
        self._ledgers.clear()
