"""Whether a refusal for too low a level becomes a way to raise it: a person (not an enterprise
or a member of staff, whose level comes from a registry or a department) is sent to the
real-name page when a check offered there reaches the level the app needs. Pure."""

from __future__ import annotations

from collections.abc import Iterable

from policies.access import Decision
from policies.assurance import rank


def raisable(decision: Decision, kind: str, account_level: str, reachable: Iterable[str]) -> bool:
    """``reachable``: the levels the offered checks lead to."""
    if decision.outcome != "deny" or decision.check != "assurance" or decision.acr is None:
        return False
    if kind != "person" or rank(account_level) >= rank(decision.acr):
        return False
    return any(rank(level) >= rank(decision.acr) for level in reachable)
