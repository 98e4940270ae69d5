"""An app's lifecycle: ``draft`` (being set up), ``live`` (in service), ``suspended`` (out of
service for a while), ``retired`` (out of service for good). Only a live app signs anyone in
or gets tokens; retired is final."""

from __future__ import annotations

DRAFT, LIVE, SUSPENDED, RETIRED = "draft", "live", "suspended", "retired"
STATES = (DRAFT, LIVE, SUSPENDED, RETIRED)
# What a state may become (staying as it is is no change, and always allowed).
_NEXT = {
    DRAFT: {LIVE, RETIRED},
    LIVE: {SUSPENDED, RETIRED},
    SUSPENDED: {LIVE, RETIRED},
    RETIRED: set(),
}


def in_service(state: str) -> bool:
    return state == LIVE


def change_problem(before: str, after: str) -> str | None:
    """Why ``before`` cannot become ``after``; None when it can."""
    if after not in STATES:
        return f"{after!r} is not a state (one of {', '.join(STATES)})"
    if before == after or after in _NEXT.get(before, set()):
        return None
    if before == RETIRED:
        return "a retired app stays retired (register a new app instead)"
    return f"a {before} app cannot become {after}"


def next_states(state: str) -> list[str]:
    """What the app may become, in the lifecycle's order."""
    return [s for s in STATES if s in _NEXT.get(state, set())]
