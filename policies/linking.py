"""Which 一号通 account an upstream identity belongs to. Pure: the gateway looks up the
candidate accounts and hands them in with what the provider is trusted for.

The rules, strongest evidence first:
- an identity already linked to an account is that account;
- a verified national ID number (persons) or unified social credit code (legal persons) links
  automatically to the account holding it;
- a verified phone or e-mail links only if the provider is trusted for that identifier;
- any other match on a verified identifier is too weak: the person proves they own the account by
  signing in to it first;
- an unverified identifier never links, and is no reason to ask for proof either;
- otherwise a new account is provisioned.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Outcome = Literal["use", "link", "prove", "provision"]


@dataclass(frozen=True)
class LinkingFacts:
    linked_account: str | None  # already linked to (provider, subject)
    verified: frozenset[str]  # identifiers the provider vouches for
    trusted_for: frozenset[str] = frozenset()  # of phone/email: which may link on their own
    # account ids holding each identifier of the identity, as found by the gateway
    matches: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LinkingDecision:
    outcome: Outcome
    account_id: str | None = None
    reason: str = ""


def decide_link(facts: LinkingFacts) -> LinkingDecision:
    if facts.linked_account:
        return LinkingDecision("use", facts.linked_account, "already linked")
    for strong in ("national_id", "uscc"):
        if strong in facts.verified and strong in facts.matches:
            return LinkingDecision("link", facts.matches[strong], f"verified {strong}")
    for contact in ("phone", "email"):
        if contact in facts.verified and contact in facts.trusted_for and contact in facts.matches:
            return LinkingDecision("link", facts.matches[contact], f"trusted verified {contact}")
    for identifier in ("national_id", "uscc", "phone", "email"):
        if identifier in facts.verified and identifier in facts.matches:
            return LinkingDecision(
                "prove", facts.matches[identifier], f"{identifier} matches but is not trusted"
            )
    return LinkingDecision("provision", None, "no account matches on verified evidence")
