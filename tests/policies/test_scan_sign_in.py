"""The scan-to-sign-in state machine."""

from __future__ import annotations

import pytest

from policies.scan_sign_in import refusal, state_of


@pytest.mark.parametrize(
    ("live", "claimed", "outcome", "state"),
    [
        (True, False, None, "waiting"),
        (True, True, None, "scanned"),
        (True, True, "confirmed", "confirmed"),
        (True, True, "refused", "refused"),
        (False, True, None, "expired"),
        (False, False, None, "expired"),
        (False, True, "confirmed", "confirmed"),
    ],
)
def test_the_state_follows_the_stored_facts(live, claimed, outcome, state) -> None:
    assert state_of(live, claimed, outcome) == state


def test_only_a_waiting_ticket_is_scanned_and_only_once() -> None:
    assert refusal("waiting", "scan") is None
    for state in ("scanned", "confirmed", "refused"):
        assert refusal(state, "scan") == "ticket_used"
    assert refusal("expired", "scan") == "ticket_expired"


def test_only_the_scanning_app_answers_and_only_once() -> None:
    assert refusal("scanned", "confirm") is None
    assert refusal("scanned", "refuse") is None
    assert refusal("scanned", "confirm", by_the_scanner=False) == "not_the_scanner"
    assert refusal("waiting", "confirm") == "not_scanned"  # no confirmation without a scan
    assert refusal("confirmed", "refuse") == "ticket_used"
    assert refusal("refused", "confirm") == "ticket_used"
    assert refusal("expired", "confirm") == "ticket_expired"


def test_the_pc_finishes_only_a_confirmed_ticket() -> None:
    assert refusal("confirmed", "finish") is None
    for state in ("waiting", "scanned", "refused"):
        assert refusal(state, "finish") == "not_confirmed"
