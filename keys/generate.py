"""New signing keys, one kind per JOSE algorithm; the ``kid`` is the RFC 7638 thumbprint."""

from __future__ import annotations

from joserfc.jwk import ECKey, OKPKey, RSAKey

SigningJWK = RSAKey | ECKey | OKPKey


def generate_key(alg: str) -> SigningJWK:
    """Generate a key for ``alg``. RSA keygen takes tens of milliseconds: call from a thread."""
    key: SigningJWK
    if alg == "RS256":
        key = RSAKey.generate_key(2048, auto_kid=True)
    elif alg == "ES256":
        key = ECKey.generate_key("P-256", auto_kid=True)
    elif alg == "EdDSA":
        key = OKPKey.generate_key("Ed25519", auto_kid=True)
    else:
        raise ValueError(f"unsupported signing algorithm {alg!r}")
    return key


def public_jwk(key: SigningJWK, alg: str) -> dict[str, str]:
    """The public half as published in the JWKS."""
    jwk = key.as_dict(private=False)
    jwk.update({"alg": alg, "use": "sig", "kid": key.kid})
    return jwk


def private_pem(key: SigningJWK) -> bytes:
    return key.as_pem(private=True)


def load_private(pem: bytes, alg: str, kid: str) -> SigningJWK:
    params = {"kid": kid, "alg": alg, "use": "sig"}
    if alg == "RS256":
        return RSAKey.import_key(pem, parameters=params)
    if alg == "ES256":
        return ECKey.import_key(pem, parameters=params)
    if alg == "EdDSA":
        return OKPKey.import_key(pem, parameters=params)
    raise ValueError(f"unsupported signing algorithm {alg!r}")
