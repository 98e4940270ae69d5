"""Is this access token still good? Two formats, one answer (its claims, or None):

- RFC 9068 JWTs: signature, issuer, expiry and type, then not revoked by its jti nor ended with
  its SSO session;
- opaque references (a client's ``access_token_format = "opaque"``, as Hydra and
  node-oidc-provider issue by default): the claims stay in the expiring store, so none of them
  crosses the wire and resource servers ask introspection.

An opaque token is ``yat_<43 random characters>`` and, when it belongs to an SSO session,
``.<sid>`` (the sid is public: ID and logout tokens carry it too). Its jti is the first half of
its SHA-256, so the store never holds a usable token, and its record, its revocation mark and
its session's end mark are read together in one round trip. The record is sealed (AES-GCM)
with a key derived from the token itself: claims such as a national ID number a client may
receive are unreadable in the store to anyone without the token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from joserfc.errors import JoseError

from gateway.oauth.revocations import claimed_and_found
from gateway.oauth.tokens_in import verify_own_jwt
from gateway.server.services import Services
from store import kv_keys

OPAQUE_PREFIX = "yat_"
_SECRET_LENGTH = 43  # secrets.token_urlsafe(32)
_MAX_OPAQUE_LENGTH = 200


def _jti_of(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:32]


def mint_opaque(sid: str | None) -> tuple[str, str]:
    """A new opaque access token and its jti."""
    token = OPAQUE_PREFIX + secrets.token_urlsafe(32) + (f".{sid}" if sid else "")
    return token, _jti_of(token)


def _record_key(token: str) -> AESGCM:
    # HMAC keyed with the token's 256 random bits: independent of the jti (a plain SHA-256).
    return AESGCM(hmac.digest(token.encode(), b"yihaotong opaque access token record", "sha256"))


def seal(token: str, jti: str, claims: dict[str, Any]) -> bytes:
    """The stored form of an opaque token's claims, bound to its jti."""
    nonce = secrets.token_bytes(12)
    plain = orjson.dumps(claims)
    return nonce + _record_key(token).encrypt(nonce, plain, jti.encode())


def _unseal(token: str, jti: str, record: bytes) -> dict[str, Any] | None:
    try:
        plain = _record_key(token).decrypt(record[:12], record[12:], jti.encode())
    except (InvalidTag, ValueError):
        return None
    claims = orjson.loads(plain)
    return claims if isinstance(claims, dict) else None


def parse_opaque(token: str) -> tuple[str, str | None] | None:
    """(jti, sid) of something shaped like our opaque token, else None. Refresh tokens (43
    characters, no prefix) and JWTs (two dots) never match."""
    if (
        not token.startswith(OPAQUE_PREFIX)
        or len(token) > _MAX_OPAQUE_LENGTH
        or not token.isascii()
    ):
        return None
    secret, dot, sid = token[len(OPAQUE_PREFIX) :].partition(".")
    if len(secret) != _SECRET_LENGTH or (dot and not sid) or "." in sid:
        return None
    return _jti_of(token), sid or None


def is_access_token_shaped(token: str) -> bool:
    return token.count(".") == 2 or parse_opaque(token) is not None


async def active_access_token(services: Services, token: str) -> dict[str, Any] | None:
    """The token's claims while it is good and its app is live: a draft, suspended or retired
    app's tokens are refused everywhere they are taken (the admin API, scan to sign in, token
    exchange), not only at UserInfo and introspection; they work again if it is live again."""
    return (await active_access_token_claiming(services, token, None))[0]


async def active_access_token_claiming(
    services: Services, token: str, claim: tuple[str, float] | None
) -> tuple[dict[str, Any] | None, bool]:
    """``active_access_token``, with ``claim`` (a key and its lifetime, such as a DPoP proof's
    ``jti``) added in the round trip that reads the token: (the claims, whether this call added
    it). A token refused before any read adds nothing."""
    claims, added = await _active_claims(services, token, claim)
    if claims is None or not await services.clients.in_service(str(claims.get("client_id"))):
        return None, added
    return claims, added


async def _active_claims(
    services: Services, token: str, claim: tuple[str, float] | None
) -> tuple[dict[str, Any] | None, bool]:
    opaque = parse_opaque(token)
    if opaque is not None:
        return await _active_opaque(services, token, claim, *opaque)
    try:
        claims = verify_own_jwt(services, token, typ="at+jwt")
    except (JoseError, ValueError):
        return None, True
    jti = claims.get("jti")
    if not isinstance(jti, str):
        return None, True
    sid = claims.get("sid")
    # Revoked by its jti, or its SSO session ended: both looked up in one round trip.
    keys = [
        kv_keys.revoked_access_token(jti),
        *([kv_keys.ended_session(sid)] if isinstance(sid, str) else []),
    ]
    added, marks = await claimed_and_found(services, claim, *keys)
    if any(found is not None for found in marks):
        return None, added
    return claims, added


async def _active_opaque(
    services: Services, token: str, claim: tuple[str, float] | None, jti: str, sid: str | None
) -> tuple[dict[str, Any] | None, bool]:
    keys = [
        kv_keys.opaque_access_token(jti),
        kv_keys.revoked_access_token(jti),
        *([kv_keys.ended_session(sid)] if sid else []),
    ]
    added, (record, *marks) = await claimed_and_found(services, claim, *keys)
    if record is None or any(mark is not None for mark in marks):
        return None, added
    claims = _unseal(token, jti, record)
    if claims is None:
        return None, added
    exp = claims.get("exp")
    if claims.get("sid") != sid or not isinstance(exp, int) or exp <= services.clock.now():
        return None, added
    return claims, added
