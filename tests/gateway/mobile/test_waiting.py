"""The PC pages' wait across instances: a page waiting on one instance hears an app's scan
and answer handled by another (they share Redis, and its pub/sub channel), long before its
long-poll would end by itself; one instance wakes its own pages at once; and a subscription
made again wakes every page, since what was published meanwhile is lost."""

from __future__ import annotations

import asyncio
import secrets

import pytest

from gateway.mobile.tickets import ticket_digest
from gateway.mobile.waiting import ScanWaiters
from store import kv_keys

LONG = 120.0  # far past the test's deadline: only a wake ends the wait in time
DEADLINE = 30.0


@pytest.fixture
async def channels(redis_url):
    """Two instances' channels on one Redis, under a prefix of the test's own."""
    from store.redis_channel import RedisChannel
    from store.redis_kv import RedisStore

    prefix = f"yht-test:{secrets.token_hex(6)}:"
    stores = [RedisStore.from_url(redis_url, prefix) for _ in range(2)]
    try:
        yield [RedisChannel(store, kv_keys.scan_moved_channel()) for store in stores]
    finally:
        for store in stores:
            await store.close()


async def test_a_wake_on_another_instance_reaches_the_waiting_page(channels) -> None:
    here, there = ScanWaiters(channels[0]), ScanWaiters(channels[1])
    here.start()
    digest = ticket_digest("t" * 43)
    try:
        await asyncio.wait_for(here.subscribed.wait(), DEADLINE)
        waiting = asyncio.ensure_future(here.wait(digest, LONG))
        await asyncio.sleep(0.1)
        assert not waiting.done()
        await there.wake(ticket_digest("another ticket"))  # not this page's
        await asyncio.sleep(0.3)
        assert not waiting.done()
        await there.wake(digest)
        await asyncio.wait_for(waiting, DEADLINE)
    finally:
        await here.close()
        await there.close()


async def test_this_instance_wakes_its_own_pages_at_once() -> None:
    here = ScanWaiters()
    waiting = asyncio.ensure_future(here.wait("d" * 64, LONG))
    await asyncio.sleep(0.05)
    await here.wake("d" * 64)
    await asyncio.wait_for(waiting, DEADLINE)
    await here.close()


async def test_an_unwoken_wait_ends_by_itself_and_a_woken_one_before_its_deadline() -> None:
    # Deadlines share one timer a second: a page left alone still ends its long-poll, and a
    # page woken long before its deadline (LONG) does not wait for it.
    here = ScanWaiters()
    alone = asyncio.ensure_future(here.wait("a" * 64, 0.2))
    woken = asyncio.ensure_future(here.wait("b" * 64, LONG))
    await asyncio.sleep(0.05)
    await here.wake("b" * 64)
    await asyncio.wait_for(woken, DEADLINE)
    await asyncio.wait_for(alone, DEADLINE)
    await here.close()


class _Resubscribing:
    """A channel whose subscription is made a second time while a page waits."""

    def __init__(self) -> None:
        self.again = asyncio.Event()

    async def publish(self, message: bytes) -> None:
        return None

    async def listen(self, on_message, on_subscribed) -> None:
        on_subscribed()
        await self.again.wait()
        on_subscribed()
        await asyncio.Event().wait()


async def test_a_new_subscription_wakes_every_page_to_read_again() -> None:
    channel = _Resubscribing()
    here = ScanWaiters(channel)
    here.start()
    try:
        await asyncio.wait_for(here.subscribed.wait(), DEADLINE)
        waiting = asyncio.ensure_future(here.wait("d" * 64, LONG))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        channel.again.set()
        await asyncio.wait_for(waiting, DEADLINE)
    finally:
        await here.close()


async def test_ten_thousand_pages_wait_without_a_task_of_their_own() -> None:
    # Each page's request is already a task; its wait adds only a future, not a second task.
    here = ScanWaiters()
    before = len(asyncio.all_tasks())
    digests = [secrets.token_hex(32) for _ in range(10_000)]
    pages = [asyncio.ensure_future(here.wait(digest, LONG)) for digest in digests]
    await asyncio.sleep(0.1)
    assert len(asyncio.all_tasks()) - before == len(pages)
    for digest in digests:
        await here.wake(digest)
    await asyncio.wait_for(asyncio.gather(*pages), DEADLINE)
    await here.close()


class _Broken:
    async def publish(self, message: bytes) -> None:
        return None

    async def listen(self, on_message, on_subscribed) -> None:
        raise ValueError("not a store failure")


async def test_a_subscription_that_ends_says_so_at_error(caplog) -> None:
    here = ScanWaiters(_Broken())
    with caplog.at_level("ERROR", logger="yihaotong"):
        here.start()
        for _ in range(100):
            await asyncio.sleep(0)
        await here.close()
    assert any("subscription ended" in r.getMessage() for r in caplog.records)
