"""What a department API tells the kit about itself."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from jose.constants import ALGORITHMS

# What python-jose can verify: no EdDSA (Ed25519) and no RSA-PSS (PS256) among them.
VERIFIABLE = frozenset(ALGORITHMS.RSA_DS | ALGORITHMS.EC_DS)


def unverifiable(algorithms: Iterable[str]) -> list[str]:
    return sorted(set(algorithms) - VERIFIABLE)


@dataclass(frozen=True)
class ResourceConfig:
    """``issuer``: the gateway (its discovery document is ``issuer`` +
    ``/.well-known/openid-configuration``); ``audience``: this API's audience URI (RFC 8707) or,
    before it is registered as a resource, its client id; ``client_id``/``client_secret``: this
    API's own credentials, for introspection (RFC 7662 §2.1) and back-channel logout (``aud``).
    ``public_url``: the API's external base URL when it sits behind a proxy (the DPoP ``htu``).
    ``dpop_nonce_secret``: when set, proofs must carry a nonce the API gave out (RFC 9449 §9),
    valid ``dpop_nonce_lifetime`` to twice that; every instance of the API shares the secret."""

    issuer: str
    audience: str
    client_id: str | None = None
    client_secret: str | None = None
    algorithms: tuple[str, ...] = ("RS256", "ES256")
    dpop_algorithms: tuple[str, ...] = ("ES256", "RS256")
    require_dpop: bool = False
    dpop_max_age: int = 60  # seconds a proof's iat may lie in the past (RFC 9449 §11.1)
    leeway: int = 5  # seconds of clock skew accepted on exp, iat and nbf
    jwks_min_refresh: float = 5.0  # seconds between two JWKS fetches at most
    introspection_cache: float = 30.0  # seconds an introspection answer is reused at most
    realm: str = ""
    public_url: str | None = None
    clock: Callable[[], float] = time.time
    dpop_nonce_secret: bytes | None = None
    dpop_nonce_lifetime: int = 300

    def __post_init__(self) -> None:
        refused = unverifiable((*self.algorithms, *self.dpop_algorithms))
        if refused:
            raise ValueError(
                f"python-jose cannot verify {', '.join(refused)}; "
                f"accept only {', '.join(sorted(VERIFIABLE))}"
            )
