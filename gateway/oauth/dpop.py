"""DPoP proofs (RFC 9449): checking one (§4.3), the server's nonces (§8, §9) and the key
thumbprint a token is bound to (``cnf.jkt``, §6).

A proof is checked without I/O first (shape, type, algorithm, public key, signature, method,
URI, age, nonce, access token hash); its ``jti`` is then remembered in the expiring store for as
long as the proof could be accepted, across instances, so a replay is refused (§11.1). That is
the one round trip a proof costs, and at a resource server it shares the round trip that
reads the access token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry, thumbprint
from joserfc.util import urlsafe_b64decode

from gateway.server.services import Services
from store import kv_keys
from store.records import Client

# Asymmetric algorithms only (§4.3 check 5); joserfc verifies each of them.
DPOP_SIGNING_ALGS = ("ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "RS256", "EdDSA")
INVALID_PROOF = "invalid_dpop_proof"
USE_NONCE = "use_dpop_nonce"
FUTURE_SKEW = 60  # seconds a device clock may run ahead of ours
NONCE_WINDOW = 300  # a nonce is good in its window and the next one
_MAX_PROOF = 8192
_JKT = re.compile(r"^[A-Za-z0-9_-]{43}$")  # a base64url SHA-256 thumbprint (RFC 7638)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_nonce_keys: dict[int, bytes] = {}


class DPoPError(Exception):
    """A proof refused: ``error`` is ``invalid_dpop_proof`` or ``use_dpop_nonce`` (§12.2)."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


@dataclass(frozen=True)
class Proof:
    jkt: str  # the SHA-256 thumbprint of the proof's public key
    jti: str


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def access_token_hash(token: str) -> str:
    """``ath`` (§4.2): base64url of the SHA-256 of the access token's ASCII bytes."""
    return b64(hashlib.sha256(token.encode()).digest())


def is_thumbprint(value: str | None) -> bool:
    return value is not None and _JKT.fullmatch(value) is not None


@lru_cache(maxsize=256)  # an app's htu and our own addresses repeat
def normalized_uri(uri: str) -> str:
    """Scheme and host lower-cased, a default port dropped, query and fragment removed
    (§4.3 check 9, with RFC 3986 §6.2.2 and §6.2.3 normalization)."""
    parts = urlsplit(uri)
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    netloc = host if port in (None, _DEFAULT_PORTS.get(scheme)) else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", "", ""))


# -- nonces (§8 at the authorization server, §9 at resource servers) ----------------------------


def _nonce_key(services: Services) -> bytes:
    key = _nonce_keys.get(id(services))
    if key is None:
        key = _nonce_keys[id(services)] = services.master_key.derive("dpop-nonce")
    return key


def _nonce_for(services: Services, window: int) -> str:
    mac = hmac.digest(_nonce_key(services), window.to_bytes(8, "big"), "sha256")[:16]
    return f"{window:x}.{b64(mac)}"


def current_nonce(services: Services) -> str:
    """A nonce every instance accepts for one to two windows: derived from the time window
    and the master key, so no instance stores or shares it."""
    return _nonce_for(services, int(services.clock.now() // NONCE_WINDOW))


def _nonce_valid(services: Services, nonce: object) -> bool:
    if not isinstance(nonce, str) or len(nonce) > 64 or not nonce.isascii():
        return False
    window = int(services.clock.now() // NONCE_WINDOW)
    return any(
        hmac.compare_digest(nonce.encode(), _nonce_for(services, w).encode())
        for w in (window, window - 1)
    )


# -- the proof -----------------------------------------------------------------------------------


def single_proof(headers: Any) -> str | None:
    """The request's one ``DPoP`` header; two are refused (§4.3 check 1)."""
    values = headers.getlist("dpop")
    if len(values) > 1:
        raise DPoPError(INVALID_PROOF, "Send one DPoP header.")
    return values[0] if values else None


# RFC 7638 §3.2: the members a thumbprint covers, by key type.
_THUMBPRINT_MEMBERS = {
    "EC": ("crv", "kty", "x", "y"),
    "RSA": ("e", "kty", "n"),
    "OKP": ("crv", "kty", "x"),
}
_REGISTRY = jws.JWSRegistry(algorithms=list(DPOP_SIGNING_ALGS))


@lru_cache(maxsize=1024)  # at most 8 MB of keys (a proof has at most 8 KB)
def _key_of(jkt: str, canonical_jwk: str) -> Any:
    """An app sends the same key with every proof: imported once, found by its thumbprint."""
    return JWKRegistry.import_key(json.loads(canonical_jwk))


@lru_cache(maxsize=1024)
def _header_and_key(segment: str) -> tuple[Any, Any, str]:
    """The algorithm of a proof's checked protected header, its public key and the key's
    thumbprint, from the header's encoded segment: the same for every proof of one app, so
    parsed and checked (joserfc's header and key checks included) once."""
    try:
        padded = segment + "=" * (-len(segment) % 4)
        header = json.loads(base64.b64decode(padded, altchars=b"-_", validate=True))
    except ValueError as error:  # binascii.Error, UnicodeDecodeError, JSONDecodeError
        raise DPoPError(INVALID_PROOF, "The DPoP proof is not a compact JWS.") from error
    if not isinstance(header, dict) or header.get("typ") != "dpop+jwt":
        raise DPoPError(INVALID_PROOF, "The DPoP proof's typ must be dpop+jwt.")
    if header.get("alg") not in DPOP_SIGNING_ALGS:
        raise DPoPError(INVALID_PROOF, "The DPoP proof's alg is not supported.")
    jwk = header.get("jwk")
    if not isinstance(jwk, dict) or "d" in jwk or jwk.get("kty") not in _THUMBPRINT_MEMBERS:
        raise DPoPError(INVALID_PROOF, "The DPoP proof needs a public jwk in its header.")
    try:
        members = {name: jwk[name] for name in _THUMBPRINT_MEMBERS[jwk["kty"]]}
        jkt = thumbprint(members)
        key = _key_of(jkt, json.dumps(jwk, sort_keys=True, separators=(",", ":")))
    except Exception as error:
        raise DPoPError(INVALID_PROOF, "The DPoP proof's jwk is not a valid key.") from error
    if key.is_private:
        raise DPoPError(INVALID_PROOF, "The DPoP proof's jwk must be a public key.")
    try:
        _REGISTRY.check_header(header)  # crit and the registered members' types
        alg = _REGISTRY.get_alg(header["alg"])
        alg.check_key(key)
    except JoseError as error:
        raise DPoPError(INVALID_PROOF, "The DPoP proof's header is not valid.") from error
    return alg, key, jkt


def _claims(proof: str, alg: Any, key: Any) -> dict[str, Any]:
    """The proof's claims once its signature is checked by joserfc's algorithm; the header
    was checked with its key (``_header_and_key``)."""
    header, payload, signature = proof.encode().split(b".")
    try:
        valid = alg.verify(header + b"." + payload, urlsafe_b64decode(signature), key)
        claims = json.loads(urlsafe_b64decode(payload)) if valid else None
    except (ValueError, JoseError) as error:  # binascii, JSON; a key the algorithm refuses
        raise DPoPError(INVALID_PROOF, "The DPoP proof's signature is not valid.") from error
    if not valid:
        raise DPoPError(INVALID_PROOF, "The DPoP proof's signature is not valid.")
    if not isinstance(claims, dict):
        raise DPoPError(INVALID_PROOF, "The DPoP proof's claims are not an object.")
    return claims


def _check_claims(
    services: Services,
    claims: dict[str, Any],
    method: str,
    uri: str,
    access_token: str | None,
) -> None:
    """§4.3 checks 8 to 12, and the nonce when the server requires one."""
    jti, htu, iat = claims.get("jti"), claims.get("htu"), claims.get("iat")
    if not isinstance(jti, str) or not 8 <= len(jti) <= 256:
        raise DPoPError(INVALID_PROOF, "The DPoP proof needs a jti.")
    if claims.get("htm") != method:
        raise DPoPError(INVALID_PROOF, "The DPoP proof's htm does not match the request.")
    if not isinstance(htu, str) or len(htu) > 2000:
        raise DPoPError(INVALID_PROOF, "The DPoP proof's htu does not match the request.")
    try:
        same_uri = normalized_uri(htu) == normalized_uri(uri)
    except ValueError:
        same_uri = False
    if not same_uri:
        raise DPoPError(INVALID_PROOF, "The DPoP proof's htu does not match the request.")
    now = services.clock.now()
    max_age = services.settings.dpop_proof_max_age
    if not isinstance(iat, int | float) or not now - max_age <= iat <= now + FUTURE_SKEW:
        raise DPoPError(INVALID_PROOF, "The DPoP proof's iat is outside the accepted window.")
    if access_token is not None and not hmac.compare_digest(
        str(claims.get("ath", "")).encode(), access_token_hash(access_token).encode()
    ):
        raise DPoPError(INVALID_PROOF, "The DPoP proof's ath does not match the access token.")
    if services.settings.dpop_nonce_required and not _nonce_valid(services, claims.get("nonce")):
        raise DPoPError(USE_NONCE, "Authorization server requires nonce in DPoP proof.")


def check_proof(
    services: Services,
    proof: str,
    *,
    method: str,
    uri: str,
    access_token: str | None = None,
) -> Proof:
    """The proof of a request to ``method`` ``uri`` checked without I/O (§4.3), all but its
    ``jti``'s first use, which the caller claims with ``claim_of``; ``access_token`` is given
    at a resource server, whose proof must carry its hash (``ath``)."""
    if len(proof) > _MAX_PROOF or proof.count(".") != 2 or not proof.isascii():
        raise DPoPError(INVALID_PROOF, "The DPoP proof is not a compact JWS.")
    alg, key, jkt = _header_and_key(proof.partition(".")[0])
    claims = _claims(proof, alg, key)
    _check_claims(services, claims, method, uri, access_token)
    return Proof(jkt=jkt, jti=claims["jti"])


def claim_of(services: Services, proof: Proof) -> tuple[str, float]:
    """The expiring-store key a proof's ``jti`` is remembered under, and for how long: as long
    as the proof could be accepted (§11.1). Adding it fails for a replay."""
    window = services.settings.dpop_proof_max_age + FUTURE_SKEW
    return kv_keys.dpop_proof(proof.jkt, proof.jti), window


REPLAYED = "The DPoP proof was used already."


async def verify_proof(
    services: Services,
    proof: str,
    *,
    method: str,
    uri: str,
    access_token: str | None = None,
) -> Proof:
    """``check_proof``, then the ``jti`` remembered (one round trip)."""
    checked = check_proof(services, proof, method=method, uri=uri, access_token=access_token)
    key, window = claim_of(services, checked)
    if not await services.expiring.add(key, b"1", window):
        raise DPoPError(INVALID_PROOF, REPLAYED)
    return checked


def bound_key(claims: dict[str, Any]) -> str | None:
    """The ``cnf.jkt`` an access token is bound to, if any."""
    cnf = claims.get("cnf")
    jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
    return jkt if isinstance(jkt, str) else None


async def token_request_key(
    services: Services, headers: Any, client: Client | None, token_url: str
) -> str | None:
    """The key a token request binds its tokens to (§5), from its proof; None without one.
    A client registered with ``dpop_bound_access_tokens`` must send a proof (§5.2)."""
    proof = single_proof(headers)
    if proof is None:
        if client is not None and client.dpop_bound_access_tokens:
            raise DPoPError(INVALID_PROOF, "This client must send a DPoP proof.")
        return None
    return (await verify_proof(services, proof, method="POST", uri=token_url)).jkt


def nonce_headers(services: Services) -> dict[str, str]:
    """A fresh nonce with every answer while nonces are required (§8.2)."""
    if not services.settings.dpop_nonce_required:
        return {}
    return {"DPoP-Nonce": current_nonce(services)}
