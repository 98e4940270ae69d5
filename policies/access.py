"""Who may use which client: a policy per client, evaluated as named checks in order, each with
a reason code (node-oidc-provider's style), so the audit log can say which check decided.

Pure: the gateway gathers the facts (account kind, roles, groups, department, how the session
signed in) and hands them in."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from policies.assurance import meets, multi_factor, rank

ACCOUNT_KINDS = frozenset({"person", "legal_person", "staff"})


@dataclass(frozen=True)
class AccessPolicy:
    kinds: frozenset[str] = ACCOUNT_KINDS
    roles: frozenset[str] = frozenset()  # the account needs one of these (none: no rule)
    groups: frozenset[str] = frozenset()  # likewise
    departments: tuple[str, ...] = ()  # department paths; the account must be inside one
    min_acr: str = "L1"
    mfa: bool = False


@dataclass(frozen=True)
class AccessFacts:
    kind: str
    acr: str  # of the current session
    account_assurance: str  # the highest level this account could reach
    amr: frozenset[str] = frozenset()
    roles: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    department: str | None = None  # e.g. /city/district/tax
    stronger_methods: frozenset[str] = field(default_factory=frozenset)  # e.g. {"otp"}
    requested_acr: str | None = None  # acr_values: voluntary (OIDC Core §3.1.2.1)
    requested_methods: frozenset[str] = field(default_factory=frozenset)  # that would reach it
    earlier_step_up: str | None = None  # the check of a step-up already asked in this request
    signed_in_again: bool = False  # a sign-in or second factor happened since
    # A new device in a new province, when the city asks a second factor for one:
    unfamiliar: bool = False


@dataclass(frozen=True)
class Decision:
    outcome: Literal["allow", "deny", "step_up"]
    check: str  # which check decided
    reason: str = ""
    acr: str | None = None  # for step_up: the level to reach


def _within(department: str | None, tree: str) -> bool:
    if department is None:
        return False
    root = tree.rstrip("/")
    return department == root or department.startswith(root + "/")


def scoped_role_counts(subtree: str, app_department: str | None, admitted: Sequence[str]) -> bool:
    """Whether a global role held only inside ``subtree`` counts for an app: when the app
    belongs to a department inside that subtree, or its policy admits only departments inside
    it (``admitted``: their paths). Held in a district, it never opens a city-wide app."""
    if _within(app_department, subtree):
        return True
    return bool(admitted) and all(_within(path, subtree) for path in admitted)


def decide_access(policy: AccessPolicy, facts: AccessFacts) -> Decision:
    """The policy's checks, then the client's own ``acr_values``; a step-up already asked for
    in this authorization is not asked again."""
    decision = _policy_checks(policy, facts)
    if (
        decision.outcome == "allow"
        and facts.requested_acr is not None
        and rank(facts.requested_acr) > rank(facts.acr)
        and facts.requested_methods
    ):
        reason = f"{facts.requested_acr} was asked for"
        decision = Decision("step_up", "acr_values", reason, facts.requested_acr)
    if decision.outcome != "step_up":
        return decision
    if facts.earlier_step_up == "acr_values" and decision.check == "acr_values":
        # Offered once and voluntary: the authorization goes on at the session's level.
        return Decision("allow", "all", "acr_values offered")
    if facts.earlier_step_up == "acr_values" or (
        facts.earlier_step_up == decision.check and facts.signed_in_again
    ):
        # Signed in again and still short: no endless loop of sign-in pages.
        return Decision("deny", decision.check, "the stronger sign-in did not happen", decision.acr)
    return decision


def _policy_checks(policy: AccessPolicy, facts: AccessFacts) -> Decision:
    if facts.kind not in policy.kinds:
        return Decision("deny", "kind", f"account kind {facts.kind} is not admitted")
    if policy.roles and not policy.roles & facts.roles:
        return Decision("deny", "roles", "none of the required roles")
    if policy.groups and not policy.groups & facts.groups:
        return Decision("deny", "groups", "none of the required groups")
    if policy.departments and not any(_within(facts.department, d) for d in policy.departments):
        return Decision("deny", "department", "outside the admitted departments")
    if not meets(facts.acr, policy.min_acr):
        if rank(facts.account_assurance) < rank(policy.min_acr):
            reason = f"the account is not verified to {policy.min_acr}"
            return Decision("deny", "assurance", reason, policy.min_acr)
        if not facts.stronger_methods:
            reason = "no stronger sign-in method is available"
            return Decision("deny", "assurance", reason, policy.min_acr)
        return Decision("step_up", "assurance", f"{policy.min_acr} is required", policy.min_acr)
    if policy.mfa and not multi_factor(facts.amr):
        if not facts.stronger_methods:
            return Decision("deny", "mfa", "multi-factor sign-in is required but not available")
        return Decision("step_up", "mfa", "multi-factor sign-in is required", policy.min_acr)
    if facts.unfamiliar and not multi_factor(facts.amr) and facts.stronger_methods:
        # Without a second factor to ask for, the notice alone must do (identity/places.py).
        reason = "a new device in a new province asks for the second factor"
        return Decision("step_up", "new_place", reason, policy.min_acr)
    return Decision("allow", "all", "every check passed")
