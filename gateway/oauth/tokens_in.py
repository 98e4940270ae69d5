"""Checking JWTs this gateway issued (access tokens, ID token hints) against its own JWKS."""

from __future__ import annotations

import json
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from gateway.server.services import Services

_keysets: dict[int, tuple[bytes, KeySet]] = {}


class TokenRejected(JoseError):
    error = "invalid_token"


def _published(services: Services) -> KeySet:
    document = services.keys.jwks_json()
    cached = _keysets.get(id(services))
    if cached is None or cached[0] is not document:
        cached = (document, KeySet.import_key_set(json.loads(document)))
        _keysets[id(services)] = cached
    return cached[1]


def verify_own_jwt(
    services: Services, token: str, *, allow_expired: bool = False, typ: str | None = None
) -> dict[str, Any]:
    """The claims of a JWT signed by one of our published keys and issued by us; raises
    TokenRejected otherwise. ``typ`` is the required type (None: an ID token, typ JWT or
    absent). ``allow_expired`` is for hints (an expired ID token still names who)."""
    if len(token) > 8192 or token.count(".") != 2 or not token.isascii():
        raise TokenRejected("not a compact JWS")
    try:
        decoded = jwt.decode(token, _published(services), registry=services.keys.registry)
    except Exception as error:  # joserfc raises more than JoseError on odd headers
        raise TokenRejected("not a valid JWS") from error
    claims = decoded.claims
    token_type = str(decoded.header.get("typ", "")).lower()
    if token_type != (typ or "jwt") and not (typ is None and token_type == ""):
        raise TokenRejected("wrong token type")  # an access or logout token is no ID token
    if claims.get("iss") != services.settings.issuer:
        raise TokenRejected("issued by someone else")
    if not isinstance(claims, dict):
        raise TokenRejected("claims are not an object")
    exp = claims.get("exp")
    if not isinstance(exp, int | float):
        raise TokenRejected("no expiry")
    if not allow_expired and exp <= services.clock.now():
        raise TokenRejected("expired")
    return claims
