"""One conformance suite for the expiring store protocol, run against memory and Redis."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest

from store.kv import ExpiringStore, ExpiringStoreError, Step

pytestmark = pytest.mark.asyncio

# How long a test waits for a short TTL to run out: far past it, so a busy machine never fails
# the test, while the TTLs stay short and a passing test waits only as long as they.
SLACK = 10.0


async def eventually(check: Callable[[], Awaitable[bool]], within: float = SLACK) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, "still there long after its TTL"
        await asyncio.sleep(0.05)


async def test_put_get_and_overwrite(expiring_store: ExpiringStore) -> None:
    assert await expiring_store.get("a") is None
    await expiring_store.put("a", b"one", 30)
    assert await expiring_store.get("a") == b"one"
    await expiring_store.put("a", b"two", 30)
    assert await expiring_store.get("a") == b"two"


async def test_get_many_reads_each_key_in_order(expiring_store: ExpiringStore) -> None:
    # Keys spread over many cluster slots: one MGET per slot there, one MGET elsewhere.
    keys = [f"many:{n}" for n in range(12)]
    for n, key in enumerate(keys):
        if n % 3:
            await expiring_store.put(key, f"v{n}".encode(), 30)
    expected = [None if n % 3 == 0 else f"v{n}".encode() for n in range(12)]
    assert await expiring_store.get_many(*keys) == expected
    assert await expiring_store.get_many("many:1") == [b"v1"]
    assert await expiring_store.get_many("absent:a", "absent:b") == [None, None]


async def test_put_many_writes_each_key_with_its_own_ttl(expiring_store: ExpiringStore) -> None:
    # Keys over many cluster slots: a pipeline without MULTI, split by node there.
    await expiring_store.put("many:2", b"old", 30)
    entries = [(f"many:{n}", f"v{n}".encode(), 30 if n % 2 else 0.15) for n in range(8)]
    await expiring_store.put_many(*entries)
    await expiring_store.put_many()  # nothing to write: no round trip, no error
    assert await expiring_store.get_many(*(key for key, _, _ in entries)) == [
        value for _, value, _ in entries
    ]
    left = await expiring_store.ttl("many:1")
    assert left is not None and 0.15 < left <= 30
    await eventually(lambda: _absent(expiring_store, "many:0"))
    assert await expiring_store.get_many("many:0", "many:1", "many:2") == [None, b"v1", None]
    with pytest.raises(ValueError):
        await expiring_store.put_many(("many:8", b"x", 30), ("many:9", b"y", 0))
    assert await expiring_store.get("many:8") is None, "none written when one TTL is refused"


async def test_values_expire(expiring_store: ExpiringStore) -> None:
    await expiring_store.put("short", b"x", 0.15)
    await expiring_store.put("long", b"y", 30)
    left = await expiring_store.ttl("short")
    assert left is not None and 0 < left <= 0.15
    await eventually(lambda: _absent(expiring_store, "short"))
    assert await expiring_store.get("short") is None
    assert await expiring_store.ttl("short") is None
    assert await expiring_store.take("short") is None
    assert await expiring_store.get("long") == b"y"


async def test_add_only_when_absent(expiring_store: ExpiringStore) -> None:
    assert await expiring_store.add("lock", b"first", 30) is True
    assert await expiring_store.add("lock", b"second", 30) is False
    assert await expiring_store.get("lock") == b"first"


async def test_add_and_get_adds_then_reads_each_key(expiring_store: ExpiringStore) -> None:
    await expiring_store.put("poll:record", b"pending", 60)
    added, read = await expiring_store.add_and_get(
        "poll:mark", b"1", 30, "poll:record", "poll:mark", "poll:absent"
    )
    assert (added, read) == (True, [b"pending", b"1", None])
    assert await expiring_store.ttl("poll:mark") is not None
    again = await expiring_store.add_and_get("poll:mark", b"2", 30, "poll:record")
    assert again == (False, [b"pending"])
    assert await expiring_store.get("poll:mark") == b"1"
    assert await expiring_store.add_and_get("poll:other", b"1", 30) == (True, [])


async def test_add_succeeds_after_expiry(expiring_store: ExpiringStore) -> None:
    assert await expiring_store.add("lock", b"first", 0.1)
    await eventually(lambda: _absent(expiring_store, "lock"))
    assert await expiring_store.add("lock", b"second", 30) is True
    assert await expiring_store.get("lock") == b"second"


async def test_take_is_single_use(expiring_store: ExpiringStore) -> None:
    await expiring_store.put("code", b"grant", 60)
    assert await expiring_store.take("code") == b"grant"
    assert await expiring_store.take("code") is None
    assert await expiring_store.get("code") is None


async def test_concurrent_takers_get_the_value_once(expiring_store: ExpiringStore) -> None:
    for round_ in range(20):
        await expiring_store.put(f"code{round_}", b"v", 60)
        results = await asyncio.gather(*(expiring_store.take(f"code{round_}") for _ in range(8)))
        assert results.count(b"v") == 1
        assert results.count(None) == 7


async def test_a_burst_beyond_the_connection_pool_is_answered(
    expiring_store: ExpiringStore,
) -> None:
    # Ten thousand waiting pages woken at once each read their ticket: far more calls at once
    # than a process keeps connections (redis-py raises MaxConnectionsError past its cap).
    burst = 1500
    await expiring_store.put("burst", b"v", 60)
    reads = await asyncio.gather(
        *(expiring_store.get_many("burst", f"none{n}") for n in range(burst)),
        *(expiring_store.incr_many(("burst-n", 60, 1)) for _ in range(burst // 3)),
        *(expiring_store.put_many((f"burst{n}", b"w", 60)) for n in range(burst // 3)),
    )
    assert reads[:burst] == [[b"v", None]] * burst
    assert await expiring_store.get("burst-n") == str(burst // 3).encode()
    assert await expiring_store.get(f"burst{burst // 3 - 1}") == b"w"


async def test_delete(expiring_store: ExpiringStore) -> None:
    await expiring_store.put("k", b"v", 30)
    assert await expiring_store.delete("k") is True
    assert await expiring_store.delete("k") is False
    assert await expiring_store.get("k") is None


async def test_counter_counts_atomically(expiring_store: ExpiringStore) -> None:
    values = await asyncio.gather(*(expiring_store.incr("failures", 30) for _ in range(50)))
    assert sorted(values) == list(range(1, 51))
    assert await expiring_store.incr("failures", 30, amount=5) == 55
    assert await expiring_store.get("failures") == b"55"


async def test_counter_window_is_fixed_from_first_increment(expiring_store: ExpiringStore) -> None:
    window = 2.0
    assert await expiring_store.incr("window", window) == 1
    first_done = time.monotonic()
    await asyncio.sleep(0.5)
    assert await expiring_store.incr("window", window) == 2  # must not extend the window
    asked = time.monotonic()
    left = await expiring_store.ttl("window")
    # Not extended: it ends a window after the first increment, at most this long from here.
    assert left is not None and left <= window - (asked - first_done) + 0.01
    await eventually(lambda: _absent(expiring_store, "window"))
    assert await expiring_store.incr("window", 30) == 1


async def test_counters_counted_together_each_keep_their_window(
    expiring_store: ExpiringStore,
) -> None:
    # Keys over many cluster slots: one pipeline elsewhere, one call each there.
    await expiring_store.incr("c:1", 30, amount=4)
    counted = [("c:0", 30.0, 1), ("c:1", 30.0, 2), ("c:2", 0.15, 3), ("c:0", 30.0, -1)]
    assert await expiring_store.incr_many(*counted) == [1, 6, 3, 0]
    assert await expiring_store.incr_many() == []
    left = await expiring_store.ttl("c:1")
    assert left is not None and 0.15 < left <= 30
    await eventually(lambda: _absent(expiring_store, "c:2"))
    assert await expiring_store.get_many("c:0", "c:1", "c:2") == [b"0", b"6", None]
    await expiring_store.put("text", b"not a number", 30)
    with pytest.raises(ExpiringStoreError):
        await expiring_store.incr_many(("c:3", 30, 1), ("text", 30, 1))


async def test_a_failed_step_leaves_no_call_running(expiring_store: ExpiringStore) -> None:
    # On a cluster the steps run concurrently: a call still running after the failure was
    # raised could reopen a client its caller closes next.
    await expiring_store.put("text", b"not a number", 30)
    counted = [("text", 30.0, 1), *((f"f:{n}", 30.0, 1) for n in range(200))]
    with pytest.raises(ExpiringStoreError):
        await expiring_store.incr_many(*counted)
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_many_runs_each_step_in_order(expiring_store: ExpiringStore) -> None:
    await expiring_store.put("m:gone", b"x", 30)
    await expiring_store.incr("m:c", 30, amount=2)
    answers = await expiring_store.many(
        Step("put", ("m:a", b"1", 30)),
        Step("get", ("m:a",)),
        Step("incr", ("m:c", 30, 3)),
        Step("incr", ("m:new", 0.15, 1)),
        Step("delete", ("m:gone",)),
        Step("delete", ("m:never",)),
        Step("set_add", ("m:s", "one", 30)),
        Step("get", ("m:never",)),
    )
    assert answers == [None, b"1", 5, 1, True, False, None, None]
    assert await expiring_store.many() == []
    assert await expiring_store.get("m:gone") is None
    assert await expiring_store.set_members("m:s") == {"one"}
    await eventually(lambda: _absent(expiring_store, "m:new"))
    await expiring_store.put("text", b"not a number", 30)
    with pytest.raises(ExpiringStoreError):
        await expiring_store.many(Step("incr", ("text", 30, 1)))


async def test_counter_on_a_non_counter_is_an_error(expiring_store: ExpiringStore) -> None:
    await expiring_store.put("text", b"not a number", 30)
    with pytest.raises(ExpiringStoreError):
        await expiring_store.incr("text", 30)


async def test_ttl_must_be_positive(expiring_store: ExpiringStore) -> None:
    with pytest.raises(ValueError):
        await expiring_store.put("k", b"v", 0)
    with pytest.raises(ValueError):
        await expiring_store.incr("k", -1)


async def test_binary_values_round_trip(expiring_store: ExpiringStore) -> None:
    blob = bytes(range(256))
    await expiring_store.put("blob", blob, 30)
    assert await expiring_store.get("blob") == blob


async def test_ping(expiring_store: ExpiringStore) -> None:
    await expiring_store.ping()


async def test_replace_only_when_live(expiring_store: ExpiringStore) -> None:
    assert await expiring_store.replace("s", b"v1", 30) is False
    assert await expiring_store.get("s") is None, "replace never creates"
    await expiring_store.put("s", b"v1", 30)
    assert await expiring_store.replace("s", b"v2", 30) is True
    assert await expiring_store.get("s") == b"v2"
    await expiring_store.delete("s")
    assert await expiring_store.replace("s", b"v3", 30) is False
    assert await expiring_store.get("s") is None, "a deleted record stays deleted"


async def test_sets(expiring_store: ExpiringStore) -> None:
    assert await expiring_store.set_members("apps") == set()
    await asyncio.gather(*(expiring_store.set_add("apps", f"c{i}", 30) for i in range(20)))
    assert await expiring_store.set_members("apps") == {f"c{i}" for i in range(20)}
    await expiring_store.set_remove("apps", "c3")
    await expiring_store.set_remove("apps", "never-there")
    assert "c3" not in await expiring_store.set_members("apps")
    left = await expiring_store.ttl("apps")
    assert left is not None and 0 < left <= 30


async def test_sets_expire(expiring_store: ExpiringStore) -> None:
    await expiring_store.set_add("short", "a", 0.15)
    await eventually(lambda: _no_members(expiring_store, "short"))
    assert await expiring_store.set_members("short") == set()


async def test_a_credential_is_redeemed_once_and_only_by_its_owner(
    expiring_store: ExpiringStore,
) -> None:
    await expiring_store.issue("cred:1", "app-a", b'{"scope": "openid"}', 60)
    assert (await expiring_store.redeem("cred:1", "app-b", 3600)).outcome == "foreign"
    first = await expiring_store.redeem("cred:1", "app-a", 3600)
    assert (first.outcome, first.value) == ("redeemed", b'{"scope": "openid"}')
    again = await expiring_store.redeem("cred:1", "app-a", 3600)
    assert (again.outcome, again.value) == ("reused", b"{}")
    # The first redemption learns of the second when it settles, and the marker stays.
    assert await expiring_store.settle("cred:1", b'{"jti": "j1"}', 3600)
    later = await expiring_store.redeem("cred:1", "app-a", 3600)
    assert (later.outcome, later.value) == ("reused", b'{"jti": "j1"}')
    assert (await expiring_store.redeem("cred:none", "app-a", 3600)).outcome == "absent"


async def test_settling_an_unchallenged_credential_reports_no_reuse(
    expiring_store: ExpiringStore,
) -> None:
    await expiring_store.issue("cred:2", "app-a", b"v", 60)
    assert (await expiring_store.redeem("cred:2", "app-a", 3600)).outcome == "redeemed"
    assert not await expiring_store.settle("cred:2", b'{"jti": "j2"}', 3600)
    left = await expiring_store.ttl("cred:2")
    assert left is not None and left > 60, "the spent marker outlives the credential"
    reused = await expiring_store.redeem("cred:2", "app-a", 3600)
    assert (reused.outcome, reused.value) == ("reused", b'{"jti": "j2"}')


async def test_racing_redemptions_spend_a_credential_once(expiring_store: ExpiringStore) -> None:
    for round_ in range(5):
        await expiring_store.issue(f"cred:r{round_}", "app", b"v", 60)
        found = await asyncio.gather(
            *(expiring_store.redeem(f"cred:r{round_}", "app", 3600) for _ in range(8))
        )
        assert sorted(f.outcome for f in found) == ["redeemed"] + ["reused"] * 7
        assert await expiring_store.settle(f"cred:r{round_}", b"{}", 3600)


async def test_a_redemption_that_produced_nothing_can_be_released(
    expiring_store: ExpiringStore,
) -> None:
    """A request that spent a credential and then failed before producing anything puts it
    back, with the time it had left; once settled, or redeemed again, it stays spent."""
    await expiring_store.issue("cred:back", "app-a", b"v", 60)
    first = await expiring_store.redeem("cred:back", "app-a", 3600)
    assert first.outcome == "redeemed" and first.ttl is not None and 55 < first.ttl <= 60
    assert await expiring_store.release("cred:back", "app-a", b"v", first.ttl)
    left = await expiring_store.ttl("cred:back")
    assert left is not None and left <= 60
    assert (await expiring_store.redeem("cred:back", "app-b", 3600)).outcome == "foreign"
    again = await expiring_store.redeem("cred:back", "app-a", 3600)
    assert (again.outcome, again.value) == ("redeemed", b"v")
    # Settled: what it produced exists, so it is spent for good.
    assert not await expiring_store.settle("cred:back", b'{"jti": "j"}', 3600)
    assert not await expiring_store.release("cred:back", "app-a", b"v", 60)
    reused = await expiring_store.redeem("cred:back", "app-a", 3600)
    assert (reused.outcome, reused.value) == ("reused", b'{"jti": "j"}')


async def test_a_credential_redeemed_twice_is_not_released(expiring_store: ExpiringStore) -> None:
    await expiring_store.issue("cred:twice", "app", b"v", 60)
    assert (await expiring_store.redeem("cred:twice", "app", 3600)).outcome == "redeemed"
    assert (await expiring_store.redeem("cred:twice", "app", 3600)).outcome == "reused"
    assert not await expiring_store.release("cred:twice", "app", b"v", 60)
    assert (await expiring_store.redeem("cred:twice", "app", 3600)).outcome == "reused"
    # Nor is one that was never issued, or has expired.
    assert not await expiring_store.release("cred:never", "app", b"v", 60)
    assert await expiring_store.get("cred:never") is None


async def test_racing_releases_and_redemptions_hand_out_the_credential_once(
    expiring_store: ExpiringStore,
) -> None:
    await expiring_store.issue("cred:race", "app", b"v", 60)
    assert (await expiring_store.redeem("cred:race", "app", 3600)).outcome == "redeemed"
    released, *found = await asyncio.gather(
        expiring_store.release("cred:race", "app", b"v", 60),
        *(expiring_store.redeem("cred:race", "app", 3600) for _ in range(6)),
    )
    redeemed = [f for f in found if f.outcome == "redeemed"]
    # Released first: exactly one later redemption gets it. Otherwise it stays spent.
    assert len(redeemed) == (1 if released else 0)


async def _absent(store: ExpiringStore, key: str) -> bool:
    return await store.get(key) is None


async def _no_members(store: ExpiringStore, key: str) -> bool:
    return await store.set_members(key) == set()
