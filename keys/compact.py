"""Compact JWS signatures (RFC 7515 §7.1) by one key, with what all of them share worked out
once: joserfc's algorithm, the key checked against it, and each header's encoded segment.

``joserfc.jwt.encode`` does the same work on every call (a registry check of the header, the
key guessed and checked, the header encoded); on the token endpoint that was a third of the
time spent signing an ES256 token. joserfc checks the key against the algorithm once, here;
the signature is then made by the key's ``cryptography`` object directly, as joserfc makes it
(RFC 7518 §3.3 and §3.4, RFC 8037 §3.1), without looking up and checking the key's private
half and building the padding and hash objects again for every token.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.hashes import SHA256
from joserfc.jws import JWSRegistry
from joserfc.util import json_b64encode, urlsafe_b64encode

from keys.generate import SigningJWK


def _signature_function(key: SigningJWK, alg: str) -> Callable[[bytes], bytes] | None:
    """The signature of the algorithms the ring generates (keys.generate), by ``cryptography``
    with its parameters made once; None for any other, which joserfc then signs."""
    private = key.get_op_key("sign")
    if alg == "RS256" and isinstance(private, rsa.RSAPrivateKey):
        pkcs1, sha256 = PKCS1v15(), SHA256()
        return lambda data: private.sign(data, pkcs1, sha256)
    if alg == "ES256" and isinstance(private, ec.EllipticCurvePrivateKey):
        ecdsa = ec.ECDSA(SHA256())

        def es256(data: bytes) -> bytes:
            # JWS wants r and s as two 32-byte big-endian integers, not DER (RFC 7518 §3.4).
            r, s = decode_dss_signature(private.sign(data, ecdsa))
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")

        return es256
    if alg == "EdDSA" and isinstance(private, ed25519.Ed25519PrivateKey):
        return private.sign
    return None


class CompactSigner:
    def __init__(self, key: SigningJWK, alg: str, registry: JWSRegistry) -> None:
        self.key = key
        self.alg = alg
        self._registry = registry
        algorithm = registry.get_alg(alg)
        algorithm.check_key(key)  # the key's type, curve, size and use, as joserfc checks them
        self._signature = _signature_function(key, alg) or (lambda data: algorithm.sign(data, key))
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
        # As joserfc encodes claims (compact, UTF-8 rather than \u escapes), by orjson.
        payload = urlsafe_b64encode(orjson.dumps(claims))
        signing_input = self.header_segment(typ) + b"." + payload
        signature = self._signature(signing_input)
        return (signing_input + b"." + urlsafe_b64encode(signature)).decode("ascii")
