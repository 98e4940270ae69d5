"""Access decisions as a table: kinds x roles x departments x acr (and MFA)."""

from __future__ import annotations

import pytest

from policies.access import AccessFacts, AccessPolicy, decide_access
from policies.assurance import meets, multi_factor, stronger

TAX_STAFF = AccessPolicy(
    kinds=frozenset({"staff"}),
    roles=frozenset({"tax.auditor", "tax.clerk"}),
    departments=("/city/tax",),
    min_acr="L2",
)
CITIZEN_SERVICE = AccessPolicy(kinds=frozenset({"person", "legal_person"}))
SENSITIVE = AccessPolicy(min_acr="L3", mfa=True)


def facts(**changes: object) -> AccessFacts:
    values: dict[str, object] = {
        "kind": "staff",
        "acr": "L2",
        "account_assurance": "L3",
        "amr": frozenset({"pwd"}),
        "roles": frozenset({"tax.clerk"}),
        "department": "/city/tax/inspection",
        "stronger_methods": frozenset({"otp"}),
    }
    values.update(changes)
    return AccessFacts(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("policy", "changes", "outcome", "check"),
    [
        (TAX_STAFF, {}, "allow", "all"),
        (TAX_STAFF, {"kind": "person"}, "deny", "kind"),
        (TAX_STAFF, {"kind": "legal_person"}, "deny", "kind"),
        (TAX_STAFF, {"roles": frozenset({"health.nurse"})}, "deny", "roles"),
        (TAX_STAFF, {"roles": frozenset()}, "deny", "roles"),
        (TAX_STAFF, {"department": "/city/tax"}, "allow", "all"),
        (TAX_STAFF, {"department": "/city/taxation"}, "deny", "department"),  # not a prefix match
        (TAX_STAFF, {"department": "/city/health"}, "deny", "department"),
        (TAX_STAFF, {"department": None}, "deny", "department"),
        (TAX_STAFF, {"acr": "L1"}, "step_up", "assurance"),
        (TAX_STAFF, {"acr": "L1", "stronger_methods": frozenset()}, "deny", "assurance"),
        (TAX_STAFF, {"acr": "L1", "account_assurance": "L1"}, "deny", "assurance"),
        (TAX_STAFF, {"acr": "L3"}, "allow", "all"),
        (
            CITIZEN_SERVICE,
            {"kind": "person", "roles": frozenset(), "department": None},
            "allow",
            "all",
        ),
        (CITIZEN_SERVICE, {"kind": "legal_person", "acr": "L1"}, "allow", "all"),
        (CITIZEN_SERVICE, {"kind": "staff"}, "deny", "kind"),
        (SENSITIVE, {"acr": "L3"}, "step_up", "mfa"),
        (SENSITIVE, {"acr": "L3", "amr": frozenset({"pwd", "otp"})}, "allow", "all"),
        (SENSITIVE, {"acr": "L3", "stronger_methods": frozenset()}, "deny", "mfa"),
        (SENSITIVE, {"acr": "L2"}, "step_up", "assurance"),
        (SENSITIVE, {"acr": "bogus"}, "step_up", "assurance"),
    ],
)
def test_access_table(policy: AccessPolicy, changes: dict, outcome: str, check: str) -> None:
    decision = decide_access(policy, facts(**changes))
    assert (decision.outcome, decision.check) == (outcome, check)
    assert decision.reason
    if outcome == "step_up":
        assert decision.acr == policy.min_acr


def test_assurance_helpers() -> None:
    assert meets("L3", "L2") and meets("L2", "L2") and not meets("L1", "L2")
    assert not meets(None, "L1") and not meets("L9", "L1")
    assert stronger("L1", "L3", "L2") == "L3" and stronger(None) == "L1"
    assert multi_factor(frozenset({"pwd", "otp"})) and multi_factor(frozenset({"mfa"}))
    assert not multi_factor(frozenset({"pwd"})) and not multi_factor(frozenset({"otp"}))


def test_a_new_device_in_a_new_province_asks_for_the_second_factor_it_can() -> None:
    plain = AccessPolicy()
    asked = decide_access(plain, facts(unfamiliar=True))
    assert (asked.outcome, asked.check) == ("step_up", "new_place")
    # No second factor to ask for: the notice alone does; a second factor already given counts.
    assert decide_access(plain, facts(unfamiliar=True, stronger_methods=frozenset())).outcome == (
        "allow"
    )
    assert decide_access(plain, facts(unfamiliar=True, amr=frozenset({"pwd", "otp"}))).outcome == (
        "allow"
    )
    assert decide_access(plain, facts()).outcome == "allow"
    # Asked once in this authorization, and still without it: refused, not asked forever.
    again = decide_access(
        plain, facts(unfamiliar=True, earlier_step_up="new_place", signed_in_again=True)
    )
    assert (again.outcome, again.check) == ("deny", "new_place")
