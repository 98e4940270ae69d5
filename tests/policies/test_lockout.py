from __future__ import annotations

import pytest

from policies.lockout import LockoutRules, device_trusted, lockout_decision, sign_in_name

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


def test_a_trusted_device_passes_the_name_limit_but_not_the_address_limit() -> None:
    assert not lockout_decision(99, 0, RULES, trusted_device=True).locked
    assert lockout_decision(99, 30, RULES, trusted_device=True).reason == "ip"


def test_a_device_that_failed_too_often_is_no_longer_trusted() -> None:
    assert device_trusted(4, RULES) and not device_trusted(5, RULES)


def test_sign_in_names_are_canonical_and_kept_apart_per_login_system() -> None:
    assert sign_in_name("ＷＡＮＧ ") == sign_in_name("wang") == "wang"
    assert sign_in_name("Wang", "tax") == "tax:wang"
    assert sign_in_name("wang", "tax") != sign_in_name("wang", "social")
