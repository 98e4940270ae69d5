"""When a refusal for too low a level becomes the way to raise it."""

from __future__ import annotations

from policies.access import Decision
from policies.real_name import raisable

TOO_LOW = Decision("deny", "assurance", "the account is not verified to L2", "L2")


def test_a_person_below_a_reachable_level_is_sent_to_raise_it() -> None:
    assert raisable(TOO_LOW, "person", "L1", {"L2", "L3"})
    assert raisable(Decision("deny", "assurance", "x", "L3"), "person", "L2", {"L3"})


def test_the_refusal_stands_otherwise() -> None:
    assert not raisable(TOO_LOW, "legal_person", "L1", {"L2", "L3"})
    assert not raisable(TOO_LOW, "staff", "L1", {"L2"})
    assert not raisable(TOO_LOW, "person", "L1", set())  # no check configured
    assert not raisable(Decision("deny", "assurance", "x", "L3"), "person", "L1", {"L2"})
    # The account has the level; only this session lacks it: a sign-in, not a check.
    assert not raisable(TOO_LOW, "person", "L2", {"L3"})
    assert not raisable(Decision("deny", "roles", "none of the roles"), "person", "L1", {"L2"})
    assert not raisable(Decision("step_up", "assurance", "x", "L2"), "person", "L1", {"L2"})
