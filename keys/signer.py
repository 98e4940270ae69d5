"""Compact JWS (RFC 7515 §7.1) by one key, signed by joserfc. The key is checked against its
algorithm when the ring loads it, so a key that may not sign fails at start, not per token."""

from __future__ import annotations

from typing import Any

import orjson
from joserfc import jws
from joserfc.jws import JWSRegistry

from keys.generate import SigningJWK


class JwsSigner:
    def __init__(self, key: SigningJWK, alg: str, registry: JWSRegistry) -> None:
        self.key = key
        self.alg = alg
        self._registry = registry
        registry.get_alg(alg).check_key(key)  # the key's type, curve, size and use

    def sign(self, claims: dict[str, Any], typ: str = "JWT") -> str:
        header = {"typ": typ, "alg": self.alg, "kid": self.key.kid}
        # Claims as compact UTF-8 JSON, as joserfc's own encoder writes them.
        payload = orjson.dumps(claims)
        return jws.serialize_compact(header, payload, self.key, registry=self._registry)
