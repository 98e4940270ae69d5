"""The master key: 256 random bits in a file only the gateway may read. It encrypts every private
signing key at rest (AES-256-GCM, the key id bound in as associated data)."""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_VERSION = "v1"


class MasterKeyError(Exception):
    """The master key file is missing, unreadable or wrong."""


def create_master_key_file(path: Path) -> bool:
    """Write a new master key with mode 0600; False when one exists already (never overwrite:
    that would make every stored private key unreadable)."""
    return write_master_key_file(path, secrets.token_bytes(32))


def write_master_key_file(path: Path, key: bytes) -> bool:
    """Write ``key`` (a new one, or one restored from a backup) with mode 0600; False when a
    file is there already, which is never overwritten."""
    if len(key) != 32:
        raise MasterKeyError("the master key must be 32 bytes")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as handle:
        handle.write(base64.urlsafe_b64encode(key).decode() + "\n")
    return True


class MasterKey:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise MasterKeyError("the master key must be 32 bytes")
        self._aead = AESGCM(key)
        self._key = key

    def derive(self, purpose: str) -> bytes:
        """A 256-bit key for one purpose (CSRF tokens, pairwise subjects, ...), so the master key
        itself is only ever used for encryption."""
        return HKDF(hashes.SHA256(), 32, salt=None, info=purpose.encode()).derive(self._key)

    def fingerprint(self) -> str:
        """The key's identity, safe to show and to store beside backups: a one-way derivation
        that tells two keys apart without revealing either."""
        return "sha256:" + self.derive("yihaotong master key fingerprint")[:16].hex()

    def export(self) -> bytes:
        """The key itself, for a backup that asks to carry it (sealed by its own passphrase)."""
        return self._key

    @classmethod
    def from_file(cls, path: Path) -> MasterKey:
        try:
            text = path.read_text().strip()
        except OSError as error:
            raise MasterKeyError(
                f"cannot read the master key file {path}: {error.strerror}"
            ) from error
        try:
            key = base64.urlsafe_b64decode(text)
        except ValueError as error:
            raise MasterKeyError(f"the master key file {path} is not base64") from error
        return cls(key)

    def encrypt(self, plaintext: bytes, context: str) -> str:
        nonce = secrets.token_bytes(12)
        sealed = self._aead.encrypt(nonce, plaintext, context.encode())
        return f"{_VERSION}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def decrypt(self, token: str, context: str) -> bytes:
        version, _, body = token.partition(".")
        if version != _VERSION:
            raise MasterKeyError(f"unknown encryption format {version!r}")
        raw = base64.urlsafe_b64decode(body)
        try:
            return self._aead.decrypt(raw[:12], raw[12:], context.encode())
        except InvalidTag as error:
            raise MasterKeyError(
                "a stored private key does not open with this master key (wrong master key file?)"
            ) from error
