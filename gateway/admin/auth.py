"""Who is calling the admin API: a bearer access token issued by this gateway (signature,
issuer, expiry, type and revocation checked as for UserInfo) to an app a city-wide administrator
designated for administration, for an enabled account that holds the admin role the request
needs, right now (a token's scope alone is not enough)."""

from __future__ import annotations

from dataclasses import dataclass

from authlib.oauth2.rfc6749.util import scope_to_list
from starlette.requests import Request

from gateway.admin.reach import Reach
from gateway.identity.access import ADMIN_SCOPES
from gateway.identity.claims import sector_of
from gateway.oauth.access_tokens import active_access_token
from gateway.server.responses import Forbidden, Unauthenticated, description_text
from gateway.server.services import Services
from policies.admin_reach import decide_grant, granted_reach

READ, WRITE = ADMIN_SCOPES


def _challenge(error: str | None = None, description: str = "", scope: str = "") -> str:
    challenge = 'Bearer realm="yihaotong"'
    if error:
        text = description_text(description, error)
        challenge += f', error="{error}", error_description="{text}"'
    if scope:
        challenge += f', scope="{scope}"'
    return challenge


def unauthenticated(description: str, error: str | None = "invalid_token") -> Unauthenticated:
    return Unauthenticated(
        description, headers={"WWW-Authenticate": _challenge(error, description)}
    )


def insufficient(scope: str, description: str) -> Forbidden:
    return Forbidden(
        description,
        headers={"WWW-Authenticate": _challenge("insufficient_scope", description, scope)},
    )


@dataclass(frozen=True)
class Admin:
    account_id: str
    client_id: str
    token_scopes: frozenset[str]
    held: dict[str, list[str]]  # admin scope -> department paths ("" everywhere)

    def reach(self, scope: str) -> Reach:
        """The reach for ``scope``, or 403 insufficient_scope (RFC 6750 §3.1)."""
        decision = decide_grant(scope, self.token_scopes, self.held)
        if not decision.allowed:
            raise insufficient(scope, decision.reason)
        return Reach(*granted_reach(scope, self.token_scopes, self.held, READ))


async def authenticate(request: Request) -> Admin:
    services: Services = request.app.state.services
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise unauthenticated("Send an access token as Authorization: Bearer.", None)
    return await admin_for_token(services, token)


async def admin_for_token(services: Services, token: str) -> Admin:
    """The administrator an access token acts for, checked as every admin request is (the
    console holds its administrator's token and asks the same question on each page)."""
    claims = await active_access_token(services, token)
    if claims is None:
        raise unauthenticated("The access token is invalid or expired.")
    client = await services.clients.get(str(claims.get("client_id")))
    if client is None:
        raise unauthenticated("The access token is invalid or expired.")
    if not client.admin_console:
        # Any other app holding admin scopes (its owner may be a district administrator)
        # could otherwise act as whoever signed in to it.
        raise unauthenticated("The access token's app is not designated for administration.")
    subject = str(claims.get("sub"))
    account_id: str | None = subject
    if client.subject_type == "pairwise":
        account_id = await services.subjects.account_of(sector_of(client), subject)
    account = await services.accounts.get(account_id) if account_id else None
    if account is None or account.disabled:
        raise unauthenticated("The access token does not act for an enabled account.")
    scopes = frozenset(scope_to_list(claims.get("scope")) or [])
    held = await services.access.admin_scopes(account.id)
    return Admin(account.id, client.client_id, scopes, held)
