"""The access token a request to one of the gateway's own APIs carries, checked the way every
such API checks it: ``Authorization: Bearer`` (RFC 6750 §2.1, or the form body where the API
allows it, §2.2) or ``Authorization: DPoP`` with a proof of the bound key (RFC 9449 §7).

``presented_access`` is the check UserInfo uses; other endpoints of the gateway that accept
access tokens call it too, and answer a refusal with ``AccessRefused.response``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from gateway.oauth.access_tokens import active_access_token, active_access_token_claiming
from gateway.oauth.dpop import (
    DPOP_SIGNING_ALGS,
    INVALID_PROOF,
    REPLAYED,
    USE_NONCE,
    DPoPError,
    bound_key,
    check_proof,
    claim_of,
    nonce_headers,
    single_proof,
)
from gateway.server.responses import description_text, oauth_error
from gateway.server.services import Services

_ALGS = " ".join(DPOP_SIGNING_ALGS)


@dataclass(frozen=True)
class PresentedAccess:
    """An active access token and how it came: ``jkt`` is the key a DPoP proof showed."""

    token: str
    claims: dict[str, Any]
    jkt: str | None = None


@dataclass(eq=False)  # an exception stays hashable
class AccessRefused(Exception):
    """Why a request's access token is refused, as RFC 6750 §3 and RFC 9449 §7.1 answer it."""

    status: int
    error: str | None
    description: str | None = None
    dpop: bool = False  # answer with the DPoP scheme's challenge
    headers: dict[str, str] = field(default_factory=dict)

    def response(self) -> Response:
        bearer = 'Bearer realm="yihaotong"'
        dpop = f'DPoP algs="{_ALGS}"'
        if not self.error:
            # No credentials: both schemes are offered (RFC 9449 §7.1, RFC 9110 §11.6.1).
            return Response(
                status_code=self.status,
                headers={"WWW-Authenticate": f"{bearer}, {dpop}", "Cache-Control": "no-store"},
            )
        challenge = dpop if self.dpop else bearer
        challenge += f', error="{self.error}"'
        description = self.description
        if description:
            description = description_text(description, self.error)
            challenge += f', error_description="{description}"'
        headers = {"WWW-Authenticate": challenge, **self.headers}
        return oauth_error(self.error, description, self.status, headers)


def _invalid(dpop: bool, description: str = "The access token is invalid or expired.") -> Any:
    return AccessRefused(401, "invalid_token", description, dpop)


def _credentials(request: Request, form_token: str | None) -> tuple[str | None, str | None]:
    """(scheme, token): from the Authorization header, or a form body's ``access_token``."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    scheme = scheme.lower()
    token = value.strip() if scheme in ("bearer", "dpop") else None
    if form_token is not None:
        if token:
            raise AccessRefused(400, "invalid_request", "Send the token one way only.")
        return "bearer", form_token
    return (scheme, token) if token else (None, None)


async def presented_access(
    services: Services, request: Request, *, form_token: str | None = None, uri: str | None = None
) -> PresentedAccess:
    """The request's active access token, or AccessRefused. ``uri``: the address the DPoP proof
    must name (default: the issuer's origin and the request's path)."""
    scheme, token = _credentials(request, form_token)
    if not token:
        raise AccessRefused(401, None)
    dpop = scheme == "dpop"
    try:
        proof = single_proof(request.headers)
    except DPoPError as error:
        raise AccessRefused(400, error.error, error.description, True) from None
    if not dpop:
        claims = await active_access_token(services, token)
        if claims is None:
            raise _invalid(False)
        if bound_key(claims) is not None:
            # RFC 9449 §7.2: a bound token is never accepted as a bearer token.
            raise _invalid(False, "The access token is DPoP-bound; use the DPoP scheme.")
        return PresentedAccess(token, claims)
    if proof is None:
        raise AccessRefused(401, "invalid_dpop_proof", "A DPoP proof is required.", True)
    target = uri or services.settings.issuer.rstrip("/") + request.url.path
    try:
        # Checked without I/O first; its jti is then claimed as the token is read.
        checked = check_proof(
            services, proof, method=request.method, uri=target, access_token=token
        )
    except DPoPError as error:
        headers = nonce_headers(services) if error.error == USE_NONCE else {}
        raise AccessRefused(401, error.error, error.description, True, headers) from None
    claims, fresh = await active_access_token_claiming(services, token, claim_of(services, checked))
    if claims is None:
        raise _invalid(True)
    if not fresh:
        raise AccessRefused(401, INVALID_PROOF, REPLAYED, True)
    jkt = bound_key(claims)
    if jkt is None:
        raise _invalid(True, "The access token is not DPoP-bound; use the Bearer scheme.")
    if checked.jkt != jkt:
        raise _invalid(True, "The DPoP proof's key is not the one the token is bound to.")
    return PresentedAccess(token, claims, jkt)
