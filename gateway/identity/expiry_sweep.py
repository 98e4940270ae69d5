"""Counting the codes and tickets that expired unused.

Each kind is issued with an entry in its expiry ledger (``kv_keys.expiry_ledger``), which taking
it removes (and a refusal, for device codes). Every period one process (whoever sets the lock
first, across instances sharing the store) removes the entries past their expiry and counts them
in ``yihaotong_expired_unused_total``."""

from __future__ import annotations

import asyncio
import logging

from gateway.identity.metrics import EXPIRED_UNUSED
from store import kv_keys
from store.kv import ExpiringStore

log = logging.getLogger("yihaotong")

CODE = kv_keys.expiry_ledger("code")
CAS_TICKET = kv_keys.expiry_ledger("cas_ticket")
DEVICE_CODE = kv_keys.expiry_ledger("device_code")
SCAN_TICKET = kv_keys.expiry_ledger("scan_ticket")
PUSHED_REQUEST = kv_keys.expiry_ledger("pushed_request")
_KINDS = {
    "authorization_code": CODE,
    "cas_ticket": CAS_TICKET,
    "device_code": DEVICE_CODE,
    "scan_ticket": SCAN_TICKET,
    "request_uri": PUSHED_REQUEST,
}
# Past its expiry by this much before an entry counts: a take sent just before the expiry
# removes it within a round trip, and instances' clocks differ by a little.
GRACE = 2.0
_BATCH = 1000


async def sweep(store: ExpiringStore, period: float) -> dict[str, int]:
    """One sweep, when no other process holds this period's lock: how many of each kind
    expired unused (empty when another process sweeps)."""
    if not await store.add(kv_keys.expiry_sweep_lock(), b"1", period * 0.9):
        return {}
    counted: dict[str, int] = {}
    for kind, ledger in _KINDS.items():
        total = 0
        while True:
            found = await store.sweep_ledger(ledger, GRACE, _BATCH)
            total += found
            if found < _BATCH:
                break
        if total:
            EXPIRED_UNUSED.labels(kind).inc(total)
        counted[kind] = total
    return counted


async def keep_sweeping(store: ExpiringStore, period: float) -> None:
    while True:
        await asyncio.sleep(period)
        try:
            await sweep(store, period)
        except Exception:
            log.warning("the expiry ledgers could not be swept; will retry", exc_info=True)
