"""Compact JWS signatures (RFC 7515 §7.1) by one key, with what all of them share worked out
once: joserfc's algorithm, the key checked against it, and each header's encoded segment.

``joserfc.jwt.encode`` does the same work on every call (a registry check of the header, the
key guessed and checked, the header encoded); on the token endpoint that was a third of the
time spent signing an ES256 token. The signature itself is still joserfc's.
"""

from __future__ import annotations

import json
from typing import Any

from joserfc.jws import JWSRegistry
from joserfc.util import json_b64encode, urlsafe_b64encode

from keys.generate import SigningJWK

# As joserfc encodes claims: compact, UTF-8 rather than \u escapes.
_CLAIMS = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


class CompactSigner:
    def __init__(self, key: SigningJWK, alg: str, registry: JWSRegistry) -> None:
        self.key = key
        self.alg = alg
        self._registry = registry
        self._algorithm = registry.get_alg(alg)
        self._algorithm.check_key(key)
        self._headers: dict[str, bytes] = {}

    def header_segment(self, typ: str) -> bytes:
        segment = self._headers.get(typ)
        if segment is None:
            # The members and their order are joserfc's: typ, alg, kid.
            header = {"typ": typ, "alg": self.alg, "kid": self.key.kid}
            self._registry.check_header(header)
            segment = self._headers[typ] = json_b64encode(header)
        return segment

    def sign(self, claims: dict[str, Any], typ: str = "JWT") -> str:
        payload = urlsafe_b64encode(_CLAIMS.encode(claims).encode())
        signing_input = self.header_segment(typ) + b"." + payload
        signature = self._algorithm.sign(signing_input, self.key)
        return (signing_input + b"." + urlsafe_b64encode(signature)).decode("ascii")
