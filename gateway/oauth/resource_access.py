"""The access token a request presents to one of the gateway's own resources (UserInfo, the
mobile app's API), checked one way for all of them (RFC 6750)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from gateway.oauth.access_tokens import active_access_token
from gateway.server.responses import description_text, oauth_error
from gateway.server.services import Services


def bearer_error(status: int, error: str | None, description: str | None = None) -> Response:
    """RFC 6750 §3: the error in the challenge, and as the JSON body too."""
    challenge = 'Bearer realm="yihaotong"'
    if not error:
        return Response(
            status_code=status, headers={"WWW-Authenticate": challenge, "Cache-Control": "no-store"}
        )
    challenge += f', error="{error}"'
    if description:
        description = description_text(description, error)
        challenge += f', error_description="{description}"'
    return oauth_error(error, description, status, {"WWW-Authenticate": challenge})


def token_in_header(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer`` header (RFC 6750 §2.1)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


async def access_token_claims(services: Services, token: str | None) -> dict[str, Any] | Response:
    """The claims of an active access token, or the RFC 6750 answer refusing it."""
    if not token:
        return bearer_error(401, None)
    claims = await active_access_token(services, token)
    if claims is None:
        return bearer_error(401, "invalid_token", "The access token is invalid or expired.")
    return claims


async def authenticated_request(request: Request) -> dict[str, Any] | Response:
    """The claims of the access token in the request's Authorization header, or the refusal."""
    return await access_token_claims(request.app.state.services, token_in_header(request))
