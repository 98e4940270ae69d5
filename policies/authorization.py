"""The authorization endpoint's next step once the request itself is valid: sign in, step up,
choose whom to act for, consent, refuse, or issue the code (OIDC Core §3.1.2, RFC 6749 §4.1).

Pure: the endpoint gathers the facts (the session, the transaction, the access policy's
decision, stored consents) and hands them in; the answer names the step and why."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from policies.access import Decision

OFFLINE_ACCESS = "offline_access"
ADMIN_SCOPES = ("admin:read", "admin:write")
ENTERPRISE_SCOPE = "enterprise:manage"
# Scopes whose tokens act with a person's power over other people: granted only on the consent
# page of the very authorization that asks for them.
PRIVILEGED_SCOPES = frozenset({*ADMIN_SCOPES, ENTERPRISE_SCOPE})

Outcome = Literal[
    "invalid_request",  # an id_token_hint that is not ours
    "login_required",  # a sign-in is needed and prompt=none forbids the page
    "sign_in",
    "access",  # the sign-in stands: the access policy is to be asked next
    "step_up",
    "act_for",  # the person chooses whom to act for
    "denied",  # the access policy refuses: a page, or access_denied with prompt=none
    "access_denied",  # the person refused on the consent page
    "consent_required",
    "consent",
    "issue",
]


@dataclass(frozen=True)
class AuthorizationFacts:
    prompts: frozenset[str] = frozenset()
    signed_in: bool = False  # a live session of an enabled account
    signed_in_here: bool = False  # its sign-in happened inside this authorization
    auth_age: float = 0.0  # seconds since that sign-in
    max_age: int | None = None
    hint_invalid: bool = False  # an id_token_hint that this issuer did not sign
    someone_else: bool = False  # the hint or a claims request names another subject
    # Known once the sign-in stands (outcome "access"):
    access: Decision | None = None
    act_for: Literal["none", "choose", "refused"] = "none"
    scopes: frozenset[str] = field(default_factory=frozenset)  # what the consent covers
    consent: str | None = None  # "allow" or "deny", given inside this authorization
    consent_shown: frozenset[str] = field(default_factory=frozenset)  # the scopes it showed
    require_consent: bool = False  # the app needs a stored consent
    consented: frozenset[str] = field(default_factory=frozenset)  # stored consent's scopes


@dataclass(frozen=True)
class Step:
    outcome: Outcome
    reason: str
    decision: Decision | None = None  # the access decision behind step_up and denied


def privileged(scopes: Iterable[str]) -> frozenset[str]:
    """The privileged scopes among ``scopes``."""
    return PRIVILEGED_SCOPES.intersection(scopes)


def scopes_to_ask(
    requested: list[str], prompts: frozenset[str], admin_held: Iterable[str]
) -> list[str]:
    """The requested scopes that may be asked for: offline_access only with prompt=consent
    (OIDC Core §11), admin scopes only when the account holds them as roles."""
    held = set(admin_held)
    return [
        scope
        for scope in requested
        if (scope != OFFLINE_ACCESS or "consent" in prompts)
        and (scope not in ADMIN_SCOPES or scope in held)
    ]


def _sign_in_needed(facts: AuthorizationFacts) -> str | None:
    if not facts.signed_in:
        return "nobody is signed in"
    if facts.signed_in_here:
        return None
    if "login" in facts.prompts:
        return "prompt=login asks for a new sign-in"
    if facts.max_age is not None and facts.auth_age > facts.max_age:
        return "the sign-in is older than max_age"
    return None


def sign_in_stands(facts: AuthorizationFacts) -> bool:
    """Whether the session's sign-in may serve this request (before the hint is compared)."""
    return _sign_in_needed(facts) is None


def _before_access(facts: AuthorizationFacts) -> Step | None:
    if facts.hint_invalid:
        return Step("invalid_request", "the id_token_hint is not a valid ID token of this issuer")
    none = "none" in facts.prompts
    reason = _sign_in_needed(facts)
    if reason is None and facts.someone_else:
        # Never answer for the person signed in here when somebody else is asked for; one
        # who has just signed in inside this authorization is not asked again.
        reason = "another subject is asked for"
        if none or facts.signed_in_here:
            return Step("login_required", reason)
    if reason is not None:
        return Step("login_required" if none else "sign_in", reason)
    return None


def _consent(facts: AuthorizationFacts) -> Step:
    decided = facts.consent
    if decided == "allow" and not facts.scopes <= facts.consent_shown:
        decided = None  # more is asked now than the consent page showed
    if decided == "deny":
        return Step("access_denied", "the person refused on the consent page")
    if decided == "allow":
        return Step("issue", "consented in this authorization")
    if "consent" in facts.prompts:
        needed = "prompt=consent"
    elif privileged(facts.scopes):
        needed = "privileged scopes are granted on this authorization's consent page"
    elif facts.require_consent and not facts.scopes <= facts.consented:
        needed = "no stored consent covers the scopes"
    else:
        return Step("issue", "nothing more to ask")
    return Step("consent_required" if "none" in facts.prompts else "consent", needed)


def next_step(facts: AuthorizationFacts) -> Step:
    """What the authorization endpoint does next with a valid request."""
    before = _before_access(facts)
    if before is not None:
        return before
    decision = facts.access
    if decision is None:
        return Step("access", "signed in; the access policy decides next")
    none = "none" in facts.prompts
    if decision.outcome == "step_up":
        return Step("login_required" if none else "step_up", decision.reason, decision)
    if decision.outcome == "allow" and facts.act_for == "choose" and not none:
        return Step("act_for", "the person may act for an enterprise", decision)
    if decision.outcome == "allow" and facts.act_for == "refused":
        decision = Decision("deny", "organisation", "no live delegation from it")
    if decision.outcome == "deny":
        return Step("denied", decision.reason, decision)
    return _consent(facts)
