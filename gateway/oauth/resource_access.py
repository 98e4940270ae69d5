"""The access token a request to one of the gateway's own APIs carries (the mobile app's calls),
checked the way UserInfo checks it: ``Authorization: Bearer`` (RFC 6750 §2.1, or the form
body where the API allows it, §2.2), then active (``access_tokens.active_access_token``).

``presented_access`` returns the token's claims or raises ``AccessRefused``, whose ``response``
is the RFC 6750 §3 answer. DPoP-bound tokens (RFC 9449 §7) are checked here too once proofs
are verified; the callers stay as they are."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from gateway.oauth.access_tokens import active_access_token
from gateway.server.responses import description_text, oauth_error
from gateway.server.services import Services


@dataclass(frozen=True)
class PresentedAccess:
    """An active access token; ``jkt`` is the key a DPoP proof showed (None for Bearer)."""

    token: str
    claims: dict[str, Any]
    jkt: str | None = None


@dataclass(eq=False)  # an exception stays hashable
class AccessRefused(Exception):
    """Why a request's access token is refused, as RFC 6750 §3 answers it."""

    status: int
    error: str | None
    description: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def response(self) -> Response:
        challenge = 'Bearer realm="yihaotong"'
        if not self.error:
            return Response(
                status_code=self.status,
                headers={"WWW-Authenticate": challenge, "Cache-Control": "no-store"},
            )
        challenge += f', error="{self.error}"'
        description = self.description
        if description:
            description = description_text(description, self.error)
            challenge += f', error_description="{description}"'
        headers = {"WWW-Authenticate": challenge, **self.headers}
        return oauth_error(self.error, description, self.status, headers)


def _credentials(request: Request, form_token: str | None) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    token = value.strip() if scheme.lower() == "bearer" else None
    if form_token is not None:
        if token:
            raise AccessRefused(400, "invalid_request", "Send the token one way only.")
        return form_token
    return token or None


async def presented_access(
    services: Services, request: Request, *, form_token: str | None = None
) -> PresentedAccess:
    """The request's active access token, or AccessRefused."""
    token = _credentials(request, form_token)
    if not token:
        raise AccessRefused(401, None)
    claims = await active_access_token(services, token)
    if claims is None:
        raise AccessRefused(401, "invalid_token", "The access token is invalid or expired.")
    return PresentedAccess(token, claims)
