"""JWT access tokens, RFC 9068 §4: ``typ`` ``at+jwt``, an allowed algorithm, a signature by the
gateway's published key, ``iss``, ``aud`` naming this API, ``exp`` (and ``iat``/``nbf``)."""

from __future__ import annotations

from typing import Any

from jose import jwt
from jose.exceptions import JOSEError

from yihaotong_resource.config import ResourceConfig, unverifiable
from yihaotong_resource.errors import InvalidToken
from yihaotong_resource.gateway import Gateway

ACCESS_TOKEN_TYPES = ("at+jwt", "application/at+jwt")


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2


async def verify_access_token(
    token: str, config: ResourceConfig, gateway: Gateway
) -> dict[str, Any]:
    """The token's claims, or InvalidToken."""
    try:
        header = jwt.get_unverified_header(token)
    except JOSEError:
        raise InvalidToken("The access token is malformed.") from None
    if str(header.get("typ", "")).lower() not in ACCESS_TOKEN_TYPES:
        raise InvalidToken("The token is not an access token (typ at+jwt).")
    alg = header.get("alg")
    if isinstance(alg, str) and unverifiable([alg]):
        # e.g. a gateway whose first YIHAOTONG_SIGNING_ALGS is EdDSA: python-jose has no Ed25519.
        raise InvalidToken(f"{alg} access tokens are not supported here (python-jose).")
    if alg not in config.algorithms:
        raise InvalidToken("The access token's algorithm is not accepted.")
    key = await gateway.key(header.get("kid"))
    if key is None:
        raise InvalidToken("The access token is signed by an unknown key.")
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[header["alg"]],
            audience=config.audience,
            issuer=config.issuer,
            options={"require_exp": True, "require_iat": True, "leeway": config.leeway},
        )
    except JOSEError as error:
        raise InvalidToken(f"The access token is not valid: {error}.") from None
    if not isinstance(claims.get("sub"), str):
        raise InvalidToken("The access token names no subject.")
    return claims
