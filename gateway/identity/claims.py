"""What a client learns about an account: its subject identifier and the standard claims its
scopes (or a ``claims`` request, OIDC Core §5.5) allow."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any
from urllib.parse import urlsplit

from policies.cas_services import service_hosts
from policies.redirect_uris import is_loopback_host
from store.records import Account, Client

SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "profile": ("name", "preferred_username", "updated_at"),
    "email": ("email", "email_verified"),
    "phone": ("phone_number", "phone_number_verified"),
}
STANDARD_SCOPES = ("openid", "profile", "email", "phone", "offline_access")
SUPPORTED_CLAIMS = ("sub", *(claim for claims in SCOPE_CLAIMS.values() for claim in claims))


def scopes_for_claims(claims_request: dict[str, Any] | None) -> set[str]:
    """The scopes whose consent covers the claims a ``claims`` request names."""
    scope_of = {claim: scope for scope, claims in SCOPE_CLAIMS.items() for claim in claims}
    names = set()
    for part in ("id_token", "userinfo"):
        section = (claims_request or {}).get(part)
        if isinstance(section, dict):
            names.update(section)
    return {scope_of[name] for name in names if name in scope_of}


def sector_of(client: Client) -> str:
    """OIDC Core §8.1: the host of the redirect URIs (a CAS app's service URLs), unless a
    sector was registered. A native app (loopback or private-scheme redirects) is a sector of
    its own, so it shares no subjects with the other native apps."""
    if client.sector_identifier:
        return client.sector_identifier
    hosts = {urlsplit(uri).hostname for uri in client.redirect_uris}
    if any(host is None or is_loopback_host(host) for host in hosts):
        return client.client_id
    hosts |= service_hosts(client.service_urls)
    return sorted(h for h in hosts if h)[0] if hosts else client.client_id


def subject_for(client: Client, account_id: str, pairwise_key: bytes) -> str:
    """The account's `sub` as this client sees it."""
    if client.subject_type != "pairwise":
        return account_id
    mac = hmac.new(pairwise_key, f"{sector_of(client)}|{account_id}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")


def wants_phone(scopes: list[str] | str, requested: dict[str, Any] | None = None) -> bool:
    """Whether ``scopes`` (a list, or space-separated) or a claims request reach the phone
    claims: only then is the verified phone read."""
    names = scopes.split() if isinstance(scopes, str) else scopes
    wanted = set(requested or {})
    for part in ("id_token", "userinfo"):
        section = (requested or {}).get(part)
        if isinstance(section, dict):
            wanted.update(section)
    return "phone" in names or bool(wanted & set(SCOPE_CLAIMS["phone"]))


def _value(account: Account, claim: str, phone: str | None) -> Any:
    # OIDC Core §5.1: phone_number is the verified number (SMS sign-in, the account centre),
    # never a number typed in by an administrator.
    return {
        "name": account.name,
        "preferred_username": account.username,
        "updated_at": int(account.updated_at),
        "email": account.email,
        "email_verified": False if account.email else None,
        "phone_number": phone,
        "phone_number_verified": True if phone else None,
    }.get(claim)


def user_claims(
    account: Account,
    subject: str,
    scopes: list[str],
    requested: dict[str, Any] | None = None,
    phone: str | None = None,
) -> dict[str, Any]:
    """``sub`` plus the claims granted by ``scopes`` and those named in a claims request
    (only standard claims the account has; unknown names are ignored, §5.5). ``phone``: the
    account's verified phone (11 digits), read when ``wants_phone``."""
    names = [claim for scope in scopes for claim in SCOPE_CLAIMS.get(scope, ())]
    names += [name for name in (requested or {}) if name in SUPPORTED_CLAIMS]
    claims: dict[str, Any] = {"sub": subject}
    for name in names:
        value = _value(account, name, phone)
        if value is not None:
            claims[name] = value
    return claims
