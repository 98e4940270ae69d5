"""Who called: what a verified access token says."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Principal:
    """The caller of a protected endpoint. ``subject`` is None for a service acting for itself
    (client credentials); ``jkt`` is set for a DPoP-bound token (RFC 9449 §6)."""

    client_id: str | None
    subject: str | None
    scopes: frozenset[str]
    acr: str | None
    token_type: str  # "Bearer" or "DPoP"
    jkt: str | None = None
    claims: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_claims(cls, claims: dict[str, Any], token_type: str, jkt: str | None) -> Principal:
        scope = claims.get("scope")
        return cls(
            client_id=claims.get("client_id"),
            subject=claims.get("sub") if claims.get("sub") != claims.get("client_id") else None,
            scopes=frozenset(scope.split()) if isinstance(scope, str) else frozenset(),
            acr=claims.get("acr"),
            token_type=token_type,
            jkt=jkt,
            claims=claims,
        )
