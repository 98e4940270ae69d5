"""The authorization endpoint's next step, decided from facts alone."""

from __future__ import annotations

from dataclasses import replace

import pytest

from policies.access import AccessFacts, AccessPolicy, Decision, decide_access
from policies.authorization import AuthorizationFacts, next_step, scopes_to_ask

ALLOW = Decision("allow", "all", "every check passed")
SIGNED_IN = AuthorizationFacts(signed_in=True, auth_age=60.0, access=ALLOW)


def _outcome(**changes: object) -> str:
    return next_step(replace(SIGNED_IN, **changes)).outcome  # type: ignore[arg-type]


def test_a_standing_sign_in_with_nothing_to_ask_issues_the_code() -> None:
    assert _outcome() == "issue"


def test_without_the_access_decision_the_access_policy_comes_next() -> None:
    assert _outcome(access=None) == "access"


@pytest.mark.parametrize(
    ("changes", "outcome"),
    [
        ({"signed_in": False}, "sign_in"),
        ({"signed_in": False, "prompts": frozenset({"none"})}, "login_required"),
        ({"prompts": frozenset({"login"})}, "sign_in"),
        ({"prompts": frozenset({"login"}), "signed_in_here": True}, "issue"),
        ({"max_age": 30}, "sign_in"),
        ({"max_age": 60}, "issue"),
        ({"max_age": 30, "signed_in_here": True}, "issue"),
        ({"max_age": 0, "prompts": frozenset({"none"})}, "login_required"),
    ],
)
def test_prompt_and_max_age_decide_whether_to_sign_in(changes: dict, outcome: str) -> None:
    assert _outcome(**changes) == outcome


def test_an_invalid_id_token_hint_is_an_invalid_request_before_anything_else() -> None:
    assert _outcome(hint_invalid=True, signed_in=False) == "invalid_request"
    assert _outcome(hint_invalid=True) == "invalid_request"


def test_someone_else_asked_for_is_never_answered_for_the_person_signed_in() -> None:
    assert _outcome(someone_else=True) == "sign_in"
    assert _outcome(someone_else=True, prompts=frozenset({"none"})) == "login_required"
    # Signed in inside this authorization and still somebody else: no second sign-in page.
    assert _outcome(someone_else=True, signed_in_here=True) == "login_required"


def test_a_step_up_is_a_page_or_login_required_with_prompt_none() -> None:
    step_up = Decision("step_up", "assurance", "L2 is required", "L2")
    assert _outcome(access=step_up) == "step_up"
    assert _outcome(access=step_up, prompts=frozenset({"none"})) == "login_required"
    assert next_step(replace(SIGNED_IN, access=step_up)).decision == step_up


def test_a_denial_names_its_check() -> None:
    deny = Decision("deny", "roles", "none of the required roles")
    step = next_step(replace(SIGNED_IN, access=deny))
    assert (step.outcome, step.decision) == ("denied", deny)


def test_act_for_is_chosen_on_a_page_unless_prompt_none_and_refused_without_delegation() -> None:
    assert _outcome(act_for="choose") == "act_for"
    assert _outcome(act_for="choose", prompts=frozenset({"none"})) == "issue"
    step = next_step(replace(SIGNED_IN, act_for="refused"))
    assert step.outcome == "denied" and step.decision and step.decision.check == "organisation"


@pytest.mark.parametrize(
    ("changes", "outcome"),
    [
        ({"prompts": frozenset({"consent"})}, "consent"),
        ({"prompts": frozenset({"consent", "none"})}, "consent_required"),
        ({"require_consent": True, "scopes": frozenset({"openid"})}, "consent"),
        (
            {"require_consent": True, "scopes": frozenset({"openid"}),
             "consented": frozenset({"openid", "email"})},
            "issue",
        ),
        ({"require_consent": True, "scopes": frozenset({"openid"}),
          "prompts": frozenset({"none"})}, "consent_required"),
        ({"consent": "deny"}, "access_denied"),
        ({"consent": "allow", "scopes": frozenset({"openid"}),
          "consent_shown": frozenset({"openid"})}, "issue"),
        # More is asked now than the consent page showed: ask again.
        ({"consent": "allow", "scopes": frozenset({"openid", "phone"}),
          "consent_shown": frozenset({"openid"}), "require_consent": True}, "consent"),
    ],
)  # fmt: skip
def test_consent(changes: dict, outcome: str) -> None:
    assert _outcome(**changes) == outcome


@pytest.mark.parametrize("scope", ["admin:read", "admin:write", "enterprise:manage"])
def test_privileged_scopes_need_this_authorizations_consent_page_every_time(scope: str) -> None:
    scopes = frozenset({"openid", scope})
    # An earlier stored consent covering them does not count; an app without consent neither.
    assert _outcome(scopes=scopes, consented=scopes) == "consent"
    assert _outcome(scopes=scopes, prompts=frozenset({"none"})) == "consent_required"
    assert _outcome(scopes=scopes, consent="allow", consent_shown=scopes) == "issue"


def test_offline_access_only_with_prompt_consent_and_admin_scopes_only_when_held() -> None:
    asked = ["openid", "offline_access", "admin:read", "admin:write"]
    assert scopes_to_ask(asked, frozenset(), {}) == ["openid"]
    assert scopes_to_ask(asked, frozenset({"consent"}), {"admin:read": [""]}) == [
        "openid",
        "offline_access",
        "admin:read",
    ]


POLICY = AccessPolicy(min_acr="L1")
FACTS = AccessFacts(kind="person", acr="L1", account_assurance="L2")


def test_acr_values_asks_for_a_step_up_only_when_one_is_possible() -> None:
    asked = replace(FACTS, requested_acr="L2", requested_methods=frozenset({"tax-ldap"}))
    assert decide_access(POLICY, asked).check == "acr_values"
    assert decide_access(POLICY, replace(asked, requested_methods=frozenset())).outcome == "allow"
    assert decide_access(POLICY, replace(asked, acr="L2")).outcome == "allow"


def test_acr_values_offered_once_goes_on_at_the_sessions_level() -> None:
    asked = replace(
        FACTS, requested_acr="L2", requested_methods=frozenset({"x"}), earlier_step_up="acr_values"
    )
    assert decide_access(POLICY, asked) == Decision("allow", "all", "acr_values offered")


def test_a_step_up_that_did_not_happen_is_denied_not_asked_again() -> None:
    policy = AccessPolicy(min_acr="L2")
    short = replace(FACTS, stronger_methods=frozenset({"tax-ldap"}))
    assert decide_access(policy, short).outcome == "step_up"
    asked_before = replace(short, earlier_step_up="assurance")
    assert decide_access(policy, asked_before).outcome == "step_up"  # not signed in since
    again = replace(asked_before, signed_in_again=True)
    assert decide_access(policy, again).outcome == "deny"
    assert decide_access(policy, replace(short, earlier_step_up="acr_values")).outcome == "deny"
