"""DPoP proofs (RFC 9449 §4.2) as a mobile client makes them: an EC P-256 key of its own, a
fresh ``jti`` and ``iat`` for every proof, ``ath`` at a resource, and the server's nonce once it
asks for one (``use_dpop_nonce``). Signed with ``cryptography``, not the gateway's JOSE library.

A proof is good for ``YIHAOTONG_DPOP_PROOF_MAX_AGE`` (300 s by default) after its ``iat``, so the
bench makes each measurement's proofs just before it (``Proofs.write``), one per request.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class ProofKey:
    """One installation's key and the proofs it signs."""

    def __init__(self) -> None:
        self._private = ec.generate_private_key(ec.SECP256R1())
        numbers = self._private.public_key().public_numbers()
        jwk = {
            "crv": "P-256",
            "kty": "EC",
            "x": b64(numbers.x.to_bytes(32, "big")),
            "y": b64(numbers.y.to_bytes(32, "big")),
        }
        canonical = json.dumps(jwk, separators=(",", ":"), sort_keys=True)
        self.thumbprint = b64(hashlib.sha256(canonical.encode()).digest())
        header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk}
        self._header = b64(json.dumps(header, separators=(",", ":")).encode())
        self.nonce: str | None = None

    def proof(self, method: str, url: str, access_token: str | None = None) -> str:
        claims: dict[str, object] = {
            "jti": secrets.token_urlsafe(16),
            "htm": method,
            "htu": url,
            "iat": int(time.time()),
        }
        if access_token is not None:
            claims["ath"] = b64(hashlib.sha256(access_token.encode()).digest())
        if self.nonce is not None:
            claims["nonce"] = self.nonce
        signing_input = f"{self._header}.{b64(json.dumps(claims, separators=(',', ':')).encode())}"
        der = self._private.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return f"{signing_input}.{b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    def learn_nonce(self, answer: httpx.Response) -> bool:
        """Keep the nonce an answer gives (§8.2); True when the request must be sent again
        with it (the server refused it for want of one)."""
        nonce = answer.headers.get("dpop-nonce")
        if nonce:
            self.nonce = nonce
        refused = answer.status_code in (400, 401) and "use_dpop_nonce" in (
            answer.text + answer.headers.get("www-authenticate", "")
        )
        return bool(nonce) and refused


class Proofs:
    """A measurement's proofs, one line each, split into bench.lua's per-thread files."""

    def __init__(
        self,
        key: ProofKey,
        method: str,
        url: str,
        prefix: Path,
        count: int,
        access_token: str | None = None,
    ) -> None:
        self.key, self.method, self.url = key, method, url
        self.prefix, self.count, self.access_token = prefix, count, access_token

    def write(self, threads: int = 2) -> None:
        lines = [
            self.key.proof(self.method, self.url, self.access_token) for _ in range(self.count)
        ]
        for n in range(threads):
            Path(f"{self.prefix}.{n + 1}").write_text("\n".join(lines[n::threads]) + "\n")
