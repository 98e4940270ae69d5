"""What a CAS app learns about a person (CAS 3.0 §2.5.2 ``<cas:attributes>``): the same as an
OIDC app's tokens would say, through the app's claims policy (its roles, department, the
enterprise acted for, restricted claims approved for it, its own names for them), the standard
profile claims, and how the person signed in."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from gateway.identity.access import Verdict, app_claims
from gateway.identity.claims import user_claims, wants_phone
from gateway.server.services import Services
from store.records import Account, Client

PROFILE = "profile"


async def attributes_for(
    services: Services,
    client: Client,
    account: Account,
    verdict: Verdict,
    act_for: str | None,
    sign_in: dict[str, Any],
) -> dict[str, Any]:
    """``sign_in``: ``auth_time``, ``acr``, ``amr`` and ``new`` (a sign-in just made)."""
    # Profile claims always; e-mail and phone when the app was registered with those scopes.
    scopes = [PROFILE, *client.scopes]
    phone = await services.phone_accounts.verified_of(account.id) if wants_phone(scopes) else None
    standard = user_claims(account, "", scopes, phone=phone)
    standard.pop("sub")
    attributes = {**standard, **await app_claims(services, account, client, verdict.org,
                                                  verdict.document, act_for)}  # fmt: skip
    when = datetime.fromtimestamp(sign_in["auth_time"], UTC)
    attributes.update(
        authenticationDate=when.isoformat().replace("+00:00", "Z"),
        isFromNewLogin=bool(sign_in["new"]),
        longTermAuthenticationRequestTokenUsed=False,
        acr=sign_in["acr"],
        amr=list(sign_in["amr"]),
    )
    return {name: value for name, value in attributes.items() if value not in (None, [], {})}
