from __future__ import annotations

import pytest

from policies.lockout import LockoutRules, lockout_decision

RULES = LockoutRules(account_failures=5, ip_failures=30)


@pytest.mark.parametrize(
    ("account", "ip", "locked", "reason"),
    [
        (0, 0, False, None),
        (4, 29, False, None),
        (5, 0, True, "account"),
        (0, 30, True, "ip"),
        (9, 99, True, "account"),
    ],
)
def test_lockout_table(account: int, ip: int, locked: bool, reason: str | None) -> None:
    decision = lockout_decision(account, ip, RULES)
    assert (decision.locked, decision.reason) == (locked, reason)
