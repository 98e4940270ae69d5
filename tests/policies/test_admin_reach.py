"""The admin reach decision as a table: subtrees, read-only subtrees, the city, and the power an
account holds against the power of the admin who would change it."""

from __future__ import annotations

import pytest

from policies.admin_reach import (
    AdminReach,
    decide_city_wide,
    decide_grant,
    decide_hand_on,
    decide_power_over,
    decide_record,
    granted_reach,
    inside,
)

DISTRICT = AdminReach(("/city/east",), ("/city/east", "/city/west"))
TWO_DISTRICTS = AdminReach(("/city/east", "/city/north"))
CITY = AdminReach.everywhere()


@pytest.mark.parametrize(
    ("path", "subtree", "expected"),
    [
        ("/city/east", "/city/east", True),
        ("/city/east/tax", "/city/east", True),
        ("/city/eastern", "/city/east", False),  # a sibling sharing the prefix is not inside
        ("/city", "/city/east", False),
        (None, "/city/east", False),
        (None, "", True),
        ("/anything", "", True),
    ],
)
def test_inside_is_the_subtree_by_path_segments(
    path: str | None, subtree: str, expected: bool
) -> None:
    assert inside(path, subtree) is expected


@pytest.mark.parametrize(
    ("reach", "path", "outcome"),
    [
        (DISTRICT, "/city/east", "allow"),
        (DISTRICT, "/city/east/tax/audit", "allow"),
        (DISTRICT, "/city/west/tax", "forbidden"),  # readable there, not writable
        (DISTRICT, "/city/south", "hidden"),
        (DISTRICT, "/city/eastern", "hidden"),
        (DISTRICT, "/city", "hidden"),  # the parent is wider than the reach
        (DISTRICT, None, "hidden"),  # no department: city-wide admins only
        (TWO_DISTRICTS, "/city/north/health", "allow"),
        (TWO_DISTRICTS, "/city/west", "hidden"),
        (CITY, None, "allow"),
        (CITY, "/city/south", "allow"),
    ],
)
def test_a_record_is_allowed_forbidden_or_hidden_by_its_department(
    reach: AdminReach, path: str | None, outcome: str
) -> None:
    decision = decide_record(reach, path, "account")
    assert decision.outcome == outcome
    assert decision.allowed is (outcome == "allow")
    if outcome == "hidden":
        assert (decision.check, decision.reason) == ("subtree", "No such account.")
    elif outcome == "forbidden":
        assert decision.check == "subtree"
        assert "outside the part of the organisation you administer" in decision.reason


def test_city_wide_things_need_the_whole_city() -> None:
    assert decide_city_wide(CITY, "roles").allowed
    decision = decide_city_wide(DISTRICT, "roles")
    assert (decision.outcome, decision.check) == ("forbidden", "city_wide")
    assert decision.reason == "Only city-wide administrators manage roles."
    assert AdminReach(("/city/east", "")).city_wide  # the city among other subtrees
    assert CITY.limit is None and DISTRICT.limit == ("/city/east",)


@pytest.mark.parametrize(
    ("reach", "held", "beyond"),
    [
        (DISTRICT, {}, None),
        (DISTRICT, {"admin:write": ["/city/east/tax"]}, None),  # less power, inside
        (DISTRICT, {"admin:write": ["/city/east"]}, None),  # the same power
        (DISTRICT, {"admin:write": [""]}, "admin:write"),  # city-wide: wider
        (DISTRICT, {"admin:write": ["/city"]}, "admin:write"),  # the parent: wider
        (DISTRICT, {"admin:read": ["/city/west"]}, "admin:read"),  # alongside
        # Readable is not administered: a role there is still beyond.
        (DISTRICT, {"admin:read": ["/city/east", "/city/west/tax"]}, "admin:read"),
        (
            DISTRICT,
            {"admin:write": ["/city/south"], "admin:read": ["/city/north"]},
            "admin:read, admin:write",
        ),
        (TWO_DISTRICTS, {"admin:write": ["/city/east", "/city/north/x"]}, None),
        (CITY, {"admin:write": [""], "admin:read": ["/city/west"]}, None),
    ],
)
def test_an_account_with_power_beyond_the_reach_is_out_of_reach(
    reach: AdminReach, held: dict[str, list[str]], beyond: str | None
) -> None:
    decision = decide_power_over(reach, held)
    if beyond is None:
        assert decision.allowed
        return
    assert (decision.outcome, decision.check) == ("forbidden", "power")
    assert decision.reason == (
        f"The account holds {beyond} beyond the part of the organisation you administer."
    )


@pytest.mark.parametrize(
    ("token_scopes", "held", "check"),
    [
        ({"admin:write"}, {"admin:write": ["/city/east"]}, None),
        ({"admin:read"}, {"admin:write": ["/city/east"]}, "scope"),
        ({"admin:write"}, {"admin:read": ["/city/east"]}, "role"),
        ({"admin:write"}, {"admin:write": []}, "role"),
    ],
)
def test_a_scope_needs_both_the_token_scope_and_the_role(
    token_scopes: set[str], held: dict[str, list[str]], check: str | None
) -> None:
    decision = decide_grant("admin:write", frozenset(token_scopes), held)
    if check is None:
        assert decision.allowed
    else:
        assert (decision.outcome, decision.check) == ("forbidden", check)
        assert "admin:write" in decision.reason


def test_the_reach_reads_where_the_read_role_is_held_with_the_read_scope() -> None:
    held = {"admin:write": ["/city/east", "/city/east"], "admin:read": ["/city/west", "/city/a"]}
    both = frozenset({"admin:write", "admin:read"})
    assert granted_reach("admin:write", both, held, "admin:read") == (
        ("/city/east",),
        ("/city/a", "/city/west"),
    )
    # Without the read scope on the token, the read role does not widen what it sees.
    assert granted_reach("admin:write", frozenset({"admin:write"}), held, "admin:read") == (
        ("/city/east",),
        (),
    )


@pytest.mark.parametrize(
    ("role", "admin_role", "path", "held", "allowed"),
    [
        ("admin:write", True, "/city/east/tax", {"admin:write": ["/city/east"]}, True),
        ("admin:write", True, "/city/west", {"admin:write": ["/city/east"]}, False),
        ("admin:write", True, None, {"admin:write": ["/city/east"]}, False),  # everywhere
        ("admin:write", True, None, {"admin:write": [""]}, True),
        ("admin:write", True, "/city/east", {"admin:read": ["/city/east"]}, False),
        ("admin:write", True, "/city/west", None, True),  # the command line grants anything
        ("tax.clerk", False, "/city/west", {"admin:write": ["/city/east"]}, True),
    ],
)
def test_an_admin_hands_on_only_the_administration_it_holds_there(
    role: str,
    admin_role: bool,
    path: str | None,
    held: dict[str, list[str]] | None,
    allowed: bool,
) -> None:
    decision = decide_hand_on(role, admin_role, path, held)
    assert decision.allowed is allowed
    if not allowed:
        assert (decision.outcome, decision.check) == ("forbidden", "hand_on")
        assert decision.reason == f"You do not hold {role} there yourself."
