"""An app's lifecycle: forward only, retired is final, and only live is in service."""

from __future__ import annotations

import pytest

from policies.app_lifecycle import STATES, change_problem, in_service, next_states


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("draft", "live"),
        ("draft", "retired"),
        ("live", "suspended"),
        ("suspended", "live"),
        ("live", "retired"),
        ("suspended", "retired"),
        ("retired", "retired"),  # no change is always allowed
    ],
)
def test_allowed_moves(before: str, after: str) -> None:
    assert change_problem(before, after) is None


@pytest.mark.parametrize(
    ("before", "after", "said"),
    [
        ("retired", "live", "stays retired"),
        ("retired", "draft", "stays retired"),
        ("live", "draft", "cannot become draft"),
        ("draft", "suspended", "cannot become suspended"),
        ("live", "paused", "not a state"),
    ],
)
def test_refused_moves_say_why(before: str, after: str, said: str) -> None:
    problem = change_problem(before, after)
    assert problem is not None and said in problem


def test_only_live_is_in_service_and_the_next_states_follow_the_rules() -> None:
    assert [s for s in STATES if in_service(s)] == ["live"]
    assert next_states("draft") == ["live", "retired"]
    assert next_states("suspended") == ["live", "retired"]
    assert next_states("retired") == []
