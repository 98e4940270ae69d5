"""Signatures and payload encryption as provincial unified authentication platforms use them
(DB37/T 3448 and its kin): a digest over the request's parameters sorted by name, keyed with the
app secret; payloads optionally sealed with SM4 (GB/T 32907) or RSA."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from typing import Literal

from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.asymmetric import padding as rsa_padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

Algorithm = Literal["md5", "sm3", "hmac-sha256"]
_BLOCK = 16  # SM4's block, in bytes


def _text(value: object) -> str:
    """A value as signed: strings as they are, other JSON values as compact JSON (sorted keys)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def canonical(params: Mapping[str, object], *, exclude: str) -> str:
    """``k1=v1&k2=v2`` over the parameters sorted by name, without the signature itself and
    without empty values (values as sent, not URL-encoded)."""
    pairs = sorted((k, _text(v)) for k, v in params.items() if k != exclude and v not in (None, ""))
    return "&".join(f"{key}={value}" for key, value in pairs)


def _sm3(data: bytes) -> str:
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize().hex()


def sign(
    params: Mapping[str, object],
    secret: str,
    algorithm: Algorithm,
    *,
    exclude: str = "sign",
    secret_name: str = "key",  # noqa: S107 - the name of the parameter, not a secret
    uppercase: bool = True,
) -> str:
    """The signature of ``params``: MD5 or SM3 over ``canonical&key=SECRET``, or HMAC-SHA256 over
    ``canonical`` keyed with the secret; hexadecimal."""
    base = canonical(params, exclude=exclude)
    if algorithm == "hmac-sha256":
        value = hmac.new(secret.encode(), base.encode(), hashlib.sha256).hexdigest()
    else:
        keyed = f"{base}&{secret_name}={secret}" if base else f"{secret_name}={secret}"
        if algorithm == "sm3":
            value = _sm3(keyed.encode())
        else:
            value = hashlib.md5(keyed.encode(), usedforsecurity=False).hexdigest()
    return value.upper() if uppercase else value


def signature_holds(
    params: Mapping[str, object],
    secret: str,
    algorithm: Algorithm,
    *,
    exclude: str = "sign",
    secret_name: str = "key",  # noqa: S107 - the name of the parameter, not a secret
) -> bool:
    """Whether ``params[exclude]`` is the right signature (constant time, any hex case)."""
    given = params.get(exclude)
    if not isinstance(given, str) or not given:
        return False
    wanted = sign(params, secret, algorithm, exclude=exclude, secret_name=secret_name)
    return hmac.compare_digest(given.upper().encode(), wanted.encode())


def sm4_encrypt(plain: bytes, key: bytes) -> str:
    """SM4-CBC with PKCS#7 padding, a random IV in front; base64."""
    iv = os.urandom(_BLOCK)
    padder = padding.PKCS7(_BLOCK * 8).padder()
    padded = padder.update(plain) + padder.finalize()
    encryptor = Cipher(algorithms.SM4(key), modes.CBC(iv)).encryptor()
    return base64.b64encode(iv + encryptor.update(padded) + encryptor.finalize()).decode()


def sm4_decrypt(sealed: str, key: bytes) -> bytes:
    """The inverse of ``sm4_encrypt``; raises ValueError on anything malformed."""
    raw = base64.b64decode(sealed, validate=True)
    if len(raw) < 2 * _BLOCK or len(raw) % _BLOCK:
        raise ValueError("not an SM4-CBC payload")
    decryptor = Cipher(algorithms.SM4(key), modes.CBC(raw[:_BLOCK])).decryptor()
    padded = decryptor.update(raw[_BLOCK:]) + decryptor.finalize()
    unpadder = padding.PKCS7(_BLOCK * 8).unpadder()
    return unpadder.update(padded) + unpadder.finalize()


def _oaep() -> rsa_padding.OAEP:
    return rsa_padding.OAEP(
        mgf=rsa_padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None
    )


def rsa_encrypt(plain: bytes, key: RSAPublicKey) -> str:
    """RSA-OAEP (SHA-256) in blocks, as the platforms split payloads longer than one block."""
    size = key.key_size // 8 - 2 * 32 - 2  # RFC 8017 §7.1.1: k - 2hLen - 2
    blocks = [plain[i : i + size] for i in range(0, len(plain), size)] or [b""]
    return base64.b64encode(b"".join(key.encrypt(block, _oaep()) for block in blocks)).decode()


def rsa_decrypt(sealed: str, key: RSAPrivateKey) -> bytes:
    """The inverse of ``rsa_encrypt``; raises ValueError on anything malformed."""
    raw = base64.b64decode(sealed, validate=True)
    size = key.key_size // 8
    if not raw or len(raw) % size:
        raise ValueError("not an RSA payload")
    return b"".join(key.decrypt(raw[i : i + size], _oaep()) for i in range(0, len(raw), size))
