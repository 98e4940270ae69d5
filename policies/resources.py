"""Department APIs as protected resources (RFC 8707): what a registration may contain, which
client may ask for a resource, and what a token for it may say. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

from policies.clients import ACCESS_TOKEN_FORMATS, Problem, scope_problem

# OpenID Connect's scopes ask about the person, not an API: a token narrowed to a resource
# keeps them, so the ID token and UserInfo answer as without a resource.
PERSON_SCOPES = frozenset({"openid", "profile", "email", "phone", "address", "offline_access"})


def resource_uri_problem(uri: str) -> str | None:
    """RFC 8707 §2: an absolute URI without a fragment (https, or http on loopback for
    development); a query is discouraged, so refused here."""
    if len(uri) > 500 or not uri.isascii() or any(ch.isspace() for ch in uri):
        return "must be an ASCII URI of at most 500 characters"
    try:
        parts = urlsplit(uri)
    except ValueError:
        return "is not a valid URI"
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "must be an absolute https URI"
    if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "::1"):
        return "must use https (http only on 127.0.0.1 for development)"
    if parts.fragment or "#" in uri:
        return "must not have a fragment (RFC 8707 §2)"
    if parts.query:
        return "must not have a query (RFC 8707 §2)"
    if parts.username or parts.password:
        return "must not hold user information"
    return None


def registration_problem(
    audience: str, name: str, scopes: Sequence[str], access_token_format: str
) -> Problem | None:
    if problem := resource_uri_problem(audience):
        return ("audience", f"{audience} {problem}")
    if not name.strip() or len(name) > 200:
        return ("name", "a resource needs a name of 1 to 200 characters")
    if not scopes:
        return ("scope", "a resource accepts at least one scope")
    if taken := sorted(PERSON_SCOPES.intersection(scopes)):
        return ("scope", f"{', '.join(taken)} are OpenID Connect's, not an API's")
    if problem := scope_problem(scopes):
        return problem
    if access_token_format not in ACCESS_TOKEN_FORMATS:
        return ("access_token_format", f"use one of {', '.join(ACCESS_TOKEN_FORMATS)}")
    return None


def may_target(client_id: str, allowed: Iterable[str]) -> bool:
    """A client may ask for a resource only when the resource names it: a city-wide decision.
    Holding one of the resource's scopes is not enough, since a department administrator may
    register any scope name for an app of theirs, and an API trusts its own audience."""
    return client_id in allowed


def narrowed(granted: Sequence[str], accepted: Iterable[str]) -> list[str]:
    """The granted scopes a token for the resource carries: those it accepts, and the
    person's own (``PERSON_SCOPES``)."""
    keep = set(accepted) | PERSON_SCOPES
    return [scope for scope in granted if scope in keep]
