"""Expiry ledgers, on every deployment of the expiring store: what expired without being taken
or redeemed is counted once, what was taken in time never."""

from __future__ import annotations

import asyncio

import pytest

from store.kv import ExpiringStore
from tests.store.test_expiring_conformance import SLACK, eventually

pytestmark = pytest.mark.asyncio

SHORT, LONG = 0.2, 60.0
# A sweep with this grace sees every entry, expired or not (what is left in the ledger).
EVERYTHING = -3600.0


async def _gone(store: ExpiringStore, *keys: str) -> bool:
    return all(value is None for value in await store.get_many(*keys))


async def _counted(store: ExpiringStore, ledger: str, expected: int) -> None:
    """The sweeps count ``expected`` entries once their expiry passed, and then nothing."""
    total = 0

    async def reached() -> bool:
        nonlocal total
        total += await store.sweep_ledger(ledger, 0, 100)
        return total >= expected

    await eventually(reached, SLACK)
    assert total == expected
    assert await store.sweep_ledger(ledger, EVERYTHING, 100) == 0, "each is counted once"


async def test_credentials_redeemed_in_time_are_not_counted(expiring_store: ExpiringStore) -> None:
    store = expiring_store
    await store.issue("cred:redeemed", "app", b"v", LONG, "ledger:codes")
    for name in ("tried-by-another", "untouched"):
        await store.issue(f"cred:{name}", "app", b"v", SHORT, "ledger:codes")
    assert (await store.redeem("cred:redeemed", "app", 3600, "ledger:codes")).outcome == "redeemed"
    foreign = await store.redeem("cred:tried-by-another", "other", 3600, "ledger:codes")
    assert foreign.outcome == "foreign"
    await eventually(lambda: _gone(store, "cred:tried-by-another", "cred:untouched"))
    # Asking for an expired code does not hide its expiry.
    late = await store.redeem("cred:untouched", "app", 3600, "ledger:codes")
    assert late.outcome == "absent"
    await _counted(store, "ledger:codes", 2)


async def test_tickets_taken_in_time_are_not_counted(expiring_store: ExpiringStore) -> None:
    store = expiring_store
    await store.put("ticket:taken", b"t", LONG, "ledger:tickets")
    for name in ("left", "taken-late"):
        await store.put(f"ticket:{name}", b"t", SHORT, "ledger:tickets")
    assert await store.take("ticket:taken", "ledger:tickets") == b"t"
    await eventually(lambda: _gone(store, "ticket:left", "ticket:taken-late"))
    assert await store.take("ticket:taken-late", "ledger:tickets") is None
    await _counted(store, "ledger:tickets", 2)


async def test_live_entries_are_not_counted(expiring_store: ExpiringStore) -> None:
    await expiring_store.put("ticket:live", b"t", LONG, "ledger:live")
    await expiring_store.issue("cred:live", "app", b"v", LONG, "ledger:live")
    assert await expiring_store.sweep_ledger("ledger:live", 0, 100) == 0
    assert await expiring_store.sweep_ledger("ledger:live", EVERYTHING, 100) == 2


async def test_a_released_credential_is_back_in_its_ledger(expiring_store: ExpiringStore) -> None:
    store = expiring_store
    await store.issue("cred:back", "app", b"v", LONG, "ledger:released")
    first = await store.redeem("cred:back", "app", 3600, "ledger:released")
    assert first.outcome == "redeemed"
    assert await store.sweep_ledger("ledger:released", EVERYTHING, 100) == 0, "redeemed: gone"
    assert await store.release("cred:back", "app", b"v", SHORT, "ledger:released")
    await eventually(lambda: _gone(store, "cred:back"))
    await _counted(store, "ledger:released", 1)


async def test_a_sweep_waits_out_the_grace(expiring_store: ExpiringStore) -> None:
    await expiring_store.put("ticket:graced", b"t", SHORT, "ledger:grace")
    await eventually(lambda: _gone(expiring_store, "ticket:graced"))
    assert await expiring_store.sweep_ledger("ledger:grace", 3600, 100) == 0
    await _counted(expiring_store, "ledger:grace", 1)


async def test_racing_sweeps_count_each_entry_once(expiring_store: ExpiringStore) -> None:
    store = expiring_store
    keys = [f"ticket:race{n}" for n in range(60)]
    await asyncio.gather(*(store.put(key, b"t", SHORT, "ledger:race") for key in keys))
    await eventually(lambda: _gone(store, *keys))
    await asyncio.sleep(SHORT)  # every entry's score is past too

    async def sweeper() -> int:
        total = 0
        while found := await store.sweep_ledger("ledger:race", 0, 7):
            total += found
            await asyncio.sleep(0)
        return total

    assert sum(await asyncio.gather(*(sweeper() for _ in range(4)))) == len(keys)


async def test_a_record_outliving_its_credential_counts_at_the_credential_s_expiry(
    expiring_store: ExpiringStore,
) -> None:
    # A device code's record stays to answer expired_token; its entry expires with the code.
    store = expiring_store
    await store.put("record:left", b"r", LONG, "ledger:outlived", ledger_ttl=SHORT)
    await store.put("record:taken", b"r", LONG, "ledger:outlived", ledger_ttl=LONG)
    assert await store.take("record:taken", "ledger:outlived") == b"r"
    await asyncio.sleep(SHORT * 2)
    # Taken after its entry expired, though the record lives: still counted.
    assert await store.take("record:left", "ledger:outlived") == b"r"
    await _counted(store, "ledger:outlived", 1)


async def test_a_credential_that_left_its_ledger_is_not_counted(
    expiring_store: ExpiringStore,
) -> None:
    store = expiring_store
    await store.put("record:refused", b"r", SHORT, "ledger:left")
    await store.put("record:pending", b"r", SHORT, "ledger:left")
    await store.leave_ledger("ledger:left", "record:refused")
    await store.leave_ledger("ledger:left", "record:never-entered")
    await eventually(lambda: _gone(store, "record:refused", "record:pending"))
    await _counted(store, "ledger:left", 1)


async def test_an_entry_expiry_must_be_positive(expiring_store: ExpiringStore) -> None:
    with pytest.raises(ValueError):
        await expiring_store.put("record:bad", b"r", LONG, "ledger:bad", ledger_ttl=0)
    assert await expiring_store.get("record:bad") is None
