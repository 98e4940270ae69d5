"""What only the in-process store does: expiry by the injected clock, and sweeping."""

from __future__ import annotations

from store.clock import FakeClock
from store.memory import MemoryStore


async def test_expiry_follows_the_injected_clock() -> None:
    clock = FakeClock()
    store = MemoryStore(clock)
    await store.put("session", b"s", 60)
    clock.advance(59.9)
    assert await store.get("session") == b"s"
    clock.advance(0.1)
    assert await store.get("session") is None


async def test_expired_entries_are_swept_without_being_read() -> None:
    clock = FakeClock()
    store = MemoryStore(clock)
    for i in range(1000):
        await store.put(f"old{i}", b"x", 1)
    clock.advance(2)
    for i in range(100):
        await store.put(f"new{i}", b"y", 60)
    assert len(store._data) < 200
