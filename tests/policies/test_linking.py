from __future__ import annotations

import pytest

from policies.linking import LinkingFacts, decide_link

ALL = frozenset({"national_id", "uscc", "phone", "email"})


@pytest.mark.parametrize(
    ("facts", "outcome", "account"),
    [
        (LinkingFacts("A", ALL, ALL, {"national_id": "B"}), "use", "A"),
        (
            LinkingFacts(None, frozenset({"national_id"}), frozenset(), {"national_id": "A"}),
            "link",
            "A",
        ),
        (LinkingFacts(None, frozenset({"uscc"}), frozenset(), {"uscc": "E"}), "link", "E"),
        # The ID number wins over a phone pointing elsewhere.
        (LinkingFacts(None, ALL, ALL, {"national_id": "A", "phone": "B"}), "link", "A"),
        (
            LinkingFacts(None, frozenset({"phone"}), frozenset({"phone"}), {"phone": "A"}),
            "link",
            "A",
        ),
        # Verified but not trusted: prove ownership first.
        (LinkingFacts(None, frozenset({"phone"}), frozenset(), {"phone": "A"}), "prove", "A"),
        (
            LinkingFacts(None, frozenset({"email"}), frozenset({"phone"}), {"email": "A"}),
            "prove",
            "A",
        ),
        # Unverified identifiers never link, and ask for nothing.
        (LinkingFacts(None, frozenset(), ALL, {"email": "A", "phone": "A"}), "provision", None),
        (LinkingFacts(None, frozenset({"national_id"}), ALL, {}), "provision", None),
    ],
)
def test_linking_table(facts: LinkingFacts, outcome: str, account: str | None) -> None:
    decision = decide_link(facts)
    assert (decision.outcome, decision.account_id) == (outcome, account)
    assert decision.reason
