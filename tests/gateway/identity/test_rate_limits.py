"""Every rate limit and failure counter goes through ``gateway/identity/rate_limits.py``, and a
limit counts, takes back and forgets the same way on every expiring-store backend."""

from __future__ import annotations

import ast
from pathlib import Path

from gateway.identity.rate_limits import OTP_CODES, Limit, hit, hit_all, reset, retry_after
from store.kv import ExpiringStore
from tests.support import parse_python

ROOT = Path(__file__).resolve().parents[3]
# The store's counting and window reads; only the rate-limit module may call them.
COUNTING = {"incr", "ttl"}


def test_no_module_counts_on_its_own() -> None:
    found = []
    for path in sorted((ROOT / "gateway").rglob("*.py")):
        if path.name == "rate_limits.py":
            continue
        for node in ast.walk(parse_python(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) in COUNTING:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == [], "count through gateway/identity/rate_limits.py"


async def test_a_limit_counts_takes_back_and_forgets(expiring_store: ExpiringStore) -> None:
    key, other = "fail-otp:rate-limit-test", "fail-ip:rate-limit-test"
    seen = [await hit(expiring_store, key, OTP_CODES) for _ in range(OTP_CODES.count + 1)]
    assert seen == list(range(1, OTP_CODES.count + 2))
    assert [OTP_CODES.allows(n) for n in seen[-2:]] == [True, False]
    assert 0 < await retry_after(expiring_store, key, OTP_CODES) <= OTP_CODES.per
    # An attempt that was no failure is taken back, on several counters at once.
    both = [(key, OTP_CODES), (other, Limit(3, per=60))]
    assert await hit_all(expiring_store, both) == [OTP_CODES.count + 2, 1]
    assert await hit_all(expiring_store, both, -1) == [OTP_CODES.count + 1, 0]
    await reset(expiring_store, key, other)
    assert await hit(expiring_store, key, OTP_CODES) == 1
    # A counter that is not there has its whole window ahead.
    assert await retry_after(expiring_store, other, Limit(3, per=60)) == 60
