"""What an administrator reaches: the department subtrees (paths) its admin scope was granted in.
A record outside them does not exist for that admin (``hidden``), unless the admin may read it
and only the change is out of reach (``forbidden``); an account that holds administration
anywhere the reach does not cover is out of reach for every change.

Pure: the admin room gathers the facts (the roles the admin holds, the scopes of its token, a
record's department path, the admin roles an account holds) and turns a decision into its
answer (404, 403, insufficient_scope)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

CITY = ""  # the subtree that covers the whole city


def inside(path: str | None, subtree: str) -> bool:
    """Whether a department at ``path`` (None: no department) lies in ``subtree``."""
    if subtree == CITY:
        return True
    return path is not None and (path == subtree or path.startswith(subtree + "/"))


@dataclass(frozen=True)
class AdminReach:
    paths: tuple[str, ...]  # where it may act ("" is the whole city)
    readable: tuple[str, ...] = ()  # where it may only look

    @classmethod
    def everywhere(cls) -> AdminReach:
        return cls((CITY,), (CITY,))

    @property
    def city_wide(self) -> bool:
        return CITY in self.paths

    @property
    def limit(self) -> Sequence[str] | None:
        """For SQL filters: None when nothing limits it."""
        return None if self.city_wide else self.paths

    def covers(self, path: str | None) -> bool:
        """Whether a department at ``path`` (None: no department) is inside the reach."""
        return any(inside(path, subtree) for subtree in self.paths)


@dataclass(frozen=True)
class ReachDecision:
    outcome: Literal["allow", "forbidden", "hidden"]
    check: str  # which check decided: scope, role, subtree, city_wide, power
    reason: str = ""

    @property
    def allowed(self) -> bool:
        return self.outcome == "allow"


ALLOW = ReachDecision("allow", "all")


def decide_grant(
    scope: str, token_scopes: frozenset[str], held: Mapping[str, Sequence[str]]
) -> ReachDecision:
    """Whether an admin may use ``scope`` at all: its token carries the scope and its account
    holds the role somewhere (``held``: role -> subtree paths). Both fail as insufficient_scope
    (RFC 6750 §3.1)."""
    if scope not in token_scopes:
        return ReachDecision("forbidden", "scope", f"The access token lacks the {scope} scope.")
    if not held.get(scope):
        return ReachDecision("forbidden", "role", f"The account does not hold the {scope} role.")
    return ALLOW


def granted_reach(
    scope: str, token_scopes: frozenset[str], held: Mapping[str, Sequence[str]], read_scope: str
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The subtrees ``scope`` acts in, and those it may look at: where the account holds the
    read role, when its token carries the read scope too."""
    readable = held.get(read_scope, ()) if read_scope in token_scopes else ()
    return tuple(sorted(set(held.get(scope, ())))), tuple(sorted(set(readable)))


def decide_record(reach: AdminReach, path: str | None, what: str) -> ReachDecision:
    """A record in the department at ``path``: allowed inside the reach; outside it, forbidden
    where the admin may read it, hidden (as if it did not exist) everywhere else."""
    if reach.covers(path):
        return ALLOW
    if any(inside(path, subtree) for subtree in reach.readable):
        return ReachDecision(
            "forbidden",
            "subtree",
            f"The {what} is outside the part of the organisation you administer.",
        )
    return ReachDecision("hidden", "subtree", f"No such {what}.")


def decide_city_wide(reach: AdminReach, what: str) -> ReachDecision:
    """What only a city-wide administrator manages."""
    if reach.city_wide:
        return ALLOW
    return ReachDecision("forbidden", "city_wide", f"Only city-wide administrators manage {what}.")


def decide_power_over(
    reach: AdminReach, held: Mapping[str, Sequence[str]], what: str = "account"
) -> ReachDecision:
    """An admin acts only on accounts that hold no more power than itself: forbidden when the
    account holds an admin role (``held``: role -> subtree paths, "" everywhere) anywhere the
    reach does not cover, wider or alongside."""
    if reach.city_wide:
        return ALLOW
    beyond = sorted({name for name, paths in held.items() for p in paths if not reach.covers(p)})
    if not beyond:
        return ALLOW
    return ReachDecision(
        "forbidden",
        "power",
        f"The {what} holds {', '.join(beyond)} beyond the part of the organisation you administer.",
    )


def decide_hand_on(
    role: str, admin_role: bool, path: str | None, held: Mapping[str, Sequence[str]] | None
) -> ReachDecision:
    """An administrator hands on only the administration it holds itself: granting an admin
    ``role`` in the department at ``path`` (None: everywhere) needs that role held over it
    (``held``: the granting admin's roles -> subtree paths; None: the command line)."""
    if not admin_role or held is None:
        return ALLOW
    if any(inside(path or CITY, subtree) for subtree in held.get(role, ())):
        return ALLOW
    return ReachDecision("forbidden", "hand_on", f"You do not hold {role} there yourself.")
