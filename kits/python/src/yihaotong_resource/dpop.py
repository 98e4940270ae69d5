"""DPoP proofs, RFC 9449 §4.3: one JWT of type ``dpop+jwt`` signed by the key in its header,
for this method and URL (``htm``, ``htu``), recent (``iat``), used once (``jti``), and, with an
access token, naming its hash (``ath``) and made by the key the token is bound to
(``cnf.jkt``, RFC 9449 §6.1, the key's RFC 7638 thumbprint)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from jose import jwt
from jose.exceptions import JOSEError

from yihaotong_resource.config import ResourceConfig, unverifiable
from yihaotong_resource.errors import InvalidDPoPProof, UseDPoPNonce
from yihaotong_resource.nonces import DPoPNonces
from yihaotong_resource.replay import MemoryReplayCache, ReplayCache

# RFC 7638 §3.2: the members of a thumbprint, by key type.
_THUMBPRINT_MEMBERS = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n"),
                       "OKP": ("crv", "kty", "x")}  # fmt: skip
_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "k")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def thumbprint(jwk: dict[str, Any]) -> str:
    """The RFC 7638 SHA-256 thumbprint of a public JWK, base64url."""
    members = _THUMBPRINT_MEMBERS.get(jwk.get("kty", ""))
    if members is None or any(not isinstance(jwk.get(name), str) for name in members):
        raise InvalidDPoPProof("The proof's key is not a supported public key.")
    canonical = json.dumps({name: jwk[name] for name in members}, separators=(",", ":"))
    return b64url(hashlib.sha256(canonical.encode()).digest())


def access_token_hash(token: str) -> str:
    return b64url(hashlib.sha256(token.encode("ascii")).digest())


def normalized_htu(url: str) -> str:
    """RFC 9449 §4.3 item 9: the URL without query and fragment, scheme and host lower-cased."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", "", ""))


def _header_and_key(proof: str, config: ResourceConfig) -> tuple[dict[str, Any], dict]:
    try:
        header = jwt.get_unverified_header(proof)
    except JOSEError:
        raise InvalidDPoPProof("The DPoP proof is malformed.") from None
    if header.get("typ") != "dpop+jwt":
        raise InvalidDPoPProof("The DPoP proof is not of type dpop+jwt.")
    alg = header.get("alg")
    if isinstance(alg, str) and unverifiable([alg]):
        raise InvalidDPoPProof(
            f"{alg} proofs are not supported here (python-jose cannot verify them); "
            f"sign the proof with one of {' '.join(config.dpop_algorithms)}."
        )
    if alg not in config.dpop_algorithms:
        raise InvalidDPoPProof("The DPoP proof's algorithm is not accepted.")
    key = header.get("jwk")
    if not isinstance(key, dict) or any(name in key for name in _PRIVATE_MEMBERS):
        raise InvalidDPoPProof("The DPoP proof carries no public key.")
    return header, key


async def verify_proof(
    proof: str,
    *,
    method: str,
    url: str,
    config: ResourceConfig,
    replay: ReplayCache,
    access_token: str | None = None,
    jkt: str | None = None,
    nonces: DPoPNonces | None = None,
) -> str:
    """Check a proof; the thumbprint of its key, or InvalidDPoPProof (UseDPoPNonce when the
    API gives out nonces and the proof lacks a fresh one)."""
    header, key = _header_and_key(proof, config)
    try:
        claims = jwt.decode(
            proof,
            key,
            algorithms=[header["alg"]],
            options={"verify_aud": False, "verify_exp": False},
        )
    except JOSEError:
        raise InvalidDPoPProof("The DPoP proof's signature does not verify.") from None
    jti, iat = claims.get("jti"), claims.get("iat")
    if not isinstance(jti, str) or not jti or not isinstance(iat, int | float):
        raise InvalidDPoPProof("The DPoP proof lacks jti or iat.")
    if claims.get("htm") != method:
        raise InvalidDPoPProof("The DPoP proof is for another method.")
    htu = claims.get("htu")
    if not isinstance(htu, str) or normalized_htu(htu) != normalized_htu(url):
        raise InvalidDPoPProof("The DPoP proof is for another URL.")
    now = config.clock()
    if iat > now + config.leeway or iat < now - config.dpop_max_age - config.leeway:
        raise InvalidDPoPProof("The DPoP proof is too old or from the future.")
    key_thumbprint = thumbprint(key)
    if access_token is not None:
        ath = claims.get("ath")
        expected = access_token_hash(access_token)
        if not isinstance(ath, str) or not hmac.compare_digest(ath, expected):
            raise InvalidDPoPProof("The DPoP proof is not for this access token (ath).")
    if jkt is not None and not hmac.compare_digest(jkt, key_thumbprint):
        raise InvalidDPoPProof("The DPoP proof is not made by the token's key (cnf.jkt).")
    if nonces is not None and not nonces.valid(claims.get("nonce")):
        raise UseDPoPNonce(nonces.current())
    ttl = config.dpop_max_age + 2 * config.leeway
    if not await replay.first_use(f"{key_thumbprint}:{jti}", ttl):
        raise InvalidDPoPProof("The DPoP proof has been used before.")
    return key_thumbprint


__all__ = ["MemoryReplayCache", "ReplayCache", "thumbprint", "verify_proof"]
