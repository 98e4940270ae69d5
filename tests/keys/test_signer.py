"""The key ring's compact signatures read as joserfc's own and verify."""

from __future__ import annotations

import warnings

import pytest
from joserfc import jwt
from joserfc.errors import BadSignatureError, SecurityWarning, UnsupportedKeyUseError
from joserfc.jwk import ECKey, RSAKey
from joserfc.jws import JWSRegistry

from keys.generate import generate_key, load_private, private_pem
from keys.signer import JwsSigner

CLAIMS = {"iss": "https://sso.example.gov.cn", "sub": "帐号-1", "aud": ["a", "b"], "exp": 2}


@pytest.mark.parametrize("alg", ["RS256", "ES256", "EdDSA"])
@pytest.mark.parametrize("typ", ["JWT", "at+jwt"])
def test_a_signature_reads_as_joserfcs(alg: str, typ: str) -> None:
    key = load_private(private_pem(generate_key(alg)), alg, "kid-1")
    registry = JWSRegistry(algorithms=[alg])
    token = JwsSigner(key, alg, registry).sign(CLAIMS, typ)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)  # EdDSA's name (RFC 9864)
        theirs = jwt.encode(
            {"alg": alg, "kid": "kid-1", "typ": typ}, CLAIMS, key, registry=registry
        )
        decoded = jwt.decode(token, key, registry=registry)
    assert decoded.header == {"typ": typ, "alg": alg, "kid": "kid-1"}
    assert decoded.claims == CLAIMS
    assert token.split(".")[:2] == theirs.split(".")[:2], "the same header and payload bytes"
    if alg != "ES256":  # ECDSA signatures are randomised; RSA PKCS#1 v1.5 and Ed25519 are not
        assert token == theirs


def test_a_changed_payload_does_not_verify() -> None:
    key = load_private(private_pem(generate_key("ES256")), "ES256", "kid-1")
    registry = JWSRegistry(algorithms=["ES256"])
    header, _, signature = JwsSigner(key, "ES256", registry).sign(CLAIMS).split(".")
    other = JwsSigner(key, "ES256", registry).sign({**CLAIMS, "sub": "帐号-2"}).split(".")[1]
    with pytest.raises(BadSignatureError):
        jwt.decode(f"{header}.{other}.{signature}", key, registry=registry)


def test_a_key_not_for_signing_is_refused_up_front() -> None:
    key = ECKey.generate_key("P-256", parameters={"use": "enc"})
    with pytest.raises(UnsupportedKeyUseError):
        JwsSigner(key, "ES256", JWSRegistry(algorithms=["ES256"]))


@pytest.mark.parametrize(("alg", "key"), [("PS256", "RSA"), ("ES384", "EC")])
def test_an_algorithm_the_ring_does_not_generate_is_signed_by_joserfc(alg: str, key: str) -> None:
    signing_key = (
        RSAKey.generate_key(2048, auto_kid=True)
        if key == "RSA"
        else ECKey.generate_key("P-384", auto_kid=True)
    )
    registry = JWSRegistry(algorithms=[alg])
    token = JwsSigner(signing_key, alg, registry).sign(CLAIMS)
    decoded = jwt.decode(token, signing_key, registry=registry)
    assert decoded.header["alg"] == alg
    assert decoded.claims == CLAIMS
