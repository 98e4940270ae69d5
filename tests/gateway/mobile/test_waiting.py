"""The PC pages' wait across instances: a page waiting on one instance hears an app's scan
and answer handled by another (they share only the expiring store), long before its long-poll
would end by itself; and one instance wakes its own pages at once."""

from __future__ import annotations

import asyncio

from gateway.mobile.tickets import Claim, Outcome, ScanTickets, ticket_digest
from gateway.mobile.waiting import ScanWaiters
from store.clock import SystemClock

LONG = 120.0  # far past the test's deadline: only a wake ends the wait in time
DEADLINE = 30.0


async def test_a_scan_on_another_instance_wakes_the_waiting_page(expiring_store) -> None:
    here = ScanWaiters(expiring_store, shared=True)
    there = ScanTickets(expiring_store, SystemClock())  # the other instance's view
    ticket = await there.create("tx", "client", "电子税务局", "10.0.0.1", "Chrome, Windows")
    digest = ticket_digest(ticket)
    claim = Claim("account", "app")
    try:
        waiting = asyncio.ensure_future(here.wait(digest, "waiting", LONG))
        await asyncio.sleep(0.1)
        assert not waiting.done()
        ticket_record, why = await there.scan(digest, claim)
        assert why is None and ticket_record is not None
        await asyncio.wait_for(waiting, DEADLINE)
        answered = asyncio.ensure_future(here.wait(digest, "scanned", LONG))
        assert await there.answer(digest, claim, Outcome("confirmed", "account", ["pwd"])) is None
        await asyncio.wait_for(answered, DEADLINE)
        assert (await there.seen(digest)).state == "confirmed"
    finally:
        await here.close()


async def test_this_instance_wakes_its_own_pages_at_once(expiring_store) -> None:
    here = ScanWaiters(expiring_store, shared=False)
    waiting = asyncio.ensure_future(here.wait("d" * 64, "waiting", LONG))
    await asyncio.sleep(0.05)
    here.wake("d" * 64)
    await asyncio.wait_for(waiting, DEADLINE)
    await here.close()
