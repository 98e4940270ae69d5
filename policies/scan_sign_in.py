"""Scan to sign in (扫码登录) as a state machine, after the device grant's (RFC 8628) and the
mitigations of the OAuth cross-device security draft: a ticket lives two minutes, one app
scans it, that app's person confirms or refuses it explicitly, and the PC that showed it
finishes the sign-in once.

    waiting --scan--> scanned --confirm--> confirmed --finish--> (spent)
                              --refuse---> refused
    any state but confirmed/refused, once the ticket's time is up: expired

Pure: the gateway reads the three facts (ticket live, claimed, outcome) and asks here."""

from __future__ import annotations

from typing import Literal

TICKET_SECONDS = 120
State = Literal["waiting", "scanned", "confirmed", "refused", "expired"]
Event = Literal["scan", "confirm", "refuse", "finish"]
FINAL: frozenset[State] = frozenset({"confirmed", "refused", "expired"})


def state_of(ticket_live: bool, claimed: bool, outcome: str | None) -> State:
    """The state from what the store holds: the outcome once answered, else the ticket."""
    if outcome == "confirmed":
        return "confirmed"
    if outcome == "refused":
        return "refused"
    if not ticket_live:
        return "expired"
    return "scanned" if claimed else "waiting"


def refusal(state: State, event: Event, by_the_scanner: bool = True) -> str | None:
    """Why ``event`` may not happen in ``state`` (a reason code), or None when it may.
    ``by_the_scanner``: the app answering is the one that scanned (same person, same app)."""
    if state == "expired":
        return "ticket_expired"
    if event == "scan":
        return None if state == "waiting" else "ticket_used"
    if event in ("confirm", "refuse"):
        if state == "waiting":
            return "not_scanned"
        if not by_the_scanner:
            return "not_the_scanner"
        return None if state == "scanned" else "ticket_used"
    # finish
    return None if state == "confirmed" else "not_confirmed"
