"""The encrypted container of a backup: a readable header, then the compressed body sealed in
chunks with AES-256-GCM under a key derived from a passphrase (scrypt).

The chunks follow the STREAM construction (Hoang, Reyhanitabar, Rogaway and Vizár, 2015): the
nonce is the chunk's number and a flag for the last one, and every chunk binds the header as
associated data, so a reordered, dropped, truncated, extended or edited piece fails to open. The
header carries a check value derived from the passphrase, so a wrong passphrase is told apart
from an altered archive. A secret inside the body (the master key) is sealed once more by a
passphrase of its own."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import zlib
from collections.abc import Iterator
from typing import Any, BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

MAGIC = b"YIHAOTONG-BACKUP\n"
FORMAT = 1
CHUNK = 1 << 20  # plaintext bytes a chunk; a reader holds about two at once
# OWASP's scrypt parameters for passphrases: 128 MiB and about half a second a derivation.
SCRYPT = {"n": 2**17, "r": 8, "p": 1}
_MAX_HEADER = 64 * 1024
_MAX_SCRYPT_N = 2**20  # a header asking for more is not ours
_SECRET_CONTEXT = b"yihaotong backup secret"


class ArchiveError(Exception):
    """The archive cannot be read or written."""


class WrongPassphrase(ArchiveError):
    """The passphrase does not open this archive (or this sealed secret)."""


class Damaged(ArchiveError):
    """The archive was altered, truncated or is not one of ours."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode()


def _unb64(text: Any) -> bytes:
    try:
        return base64.urlsafe_b64decode(str(text))
    except ValueError as error:
        raise Damaged("the archive's header is not readable") from error


def _derive(passphrase: str, kdf: dict[str, Any]) -> tuple[bytes, bytes]:
    """An encryption key and a check value from ``passphrase`` under ``kdf``'s parameters."""
    try:
        n, r, p = int(kdf["n"]), int(kdf["r"]), int(kdf["p"])
        salt = _unb64(kdf["salt"])
    except (KeyError, TypeError, ValueError) as error:
        raise Damaged("the archive's header is not readable") from error
    if not (2 <= n <= _MAX_SCRYPT_N and 1 <= r <= 32 and 1 <= p <= 16 and len(salt) >= 16):
        raise Damaged("the archive's header asks for key derivation parameters out of range")
    root = Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode())
    both = HKDF(hashes.SHA256(), 64, salt=None, info=b"yihaotong backup keys").derive(root)
    return both[:32], both[32:]


def _new_kdf() -> dict[str, Any]:
    return {"name": "scrypt", **SCRYPT, "salt": _b64(secrets.token_bytes(16))}


def _nonce(counter: int, last: bool) -> bytes:
    return counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


class Sealer:
    """Writes an archive to ``out``: the header now, the body through ``write``, the last
    chunk at ``close``."""

    def __init__(self, out: BinaryIO, passphrase: str, header: dict[str, Any]) -> None:
        kdf = _new_kdf()
        key, check = _derive(passphrase, kdf)
        full = {**header, "format": FORMAT, "kdf": kdf, "check": _b64(check[:16])}
        encoded = json.dumps(full, sort_keys=True, ensure_ascii=False).encode()
        out.write(MAGIC + len(encoded).to_bytes(4, "big") + encoded)
        self._out = out
        self._aead = AESGCM(key)
        self._aad = hashlib.sha256(MAGIC + encoded).digest()
        self._compress = zlib.compressobj(6)
        self._pending = bytearray()
        self._counter = 0

    def write(self, data: bytes) -> None:
        self._pending += self._compress.compress(data)
        while len(self._pending) > CHUNK:
            self._emit(bytes(self._pending[:CHUNK]), last=False)
            del self._pending[:CHUNK]

    def close(self) -> None:
        self._pending += self._compress.flush()
        while len(self._pending) > CHUNK:
            self._emit(bytes(self._pending[:CHUNK]), last=False)
            del self._pending[:CHUNK]
        self._emit(bytes(self._pending), last=True)
        self._pending.clear()

    def _emit(self, chunk: bytes, last: bool) -> None:
        sealed = self._aead.encrypt(_nonce(self._counter, last), chunk, self._aad)
        self._out.write(len(sealed).to_bytes(4, "big") + sealed)
        self._counter += 1


def read_header(handle: BinaryIO) -> tuple[dict[str, Any], bytes]:
    """The header as written, and its bytes as they were (the chunks are bound to them)."""
    if handle.read(len(MAGIC)) != MAGIC:
        raise Damaged("this file is not a Yihaotong backup")
    size = int.from_bytes(handle.read(4), "big")
    if not 0 < size <= _MAX_HEADER:
        raise Damaged("the archive's header is not readable")
    encoded = handle.read(size)
    try:
        header = json.loads(encoded)
    except ValueError as error:
        raise Damaged("the archive's header is not readable") from error
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise Damaged(f"unknown archive format {header.get('format')!r}; a newer version wrote it")
    return header, encoded


class Opener:
    """Reads an archive from ``handle``: the header at once (and whether the passphrase is
    right), the body through ``records``, each chunk checked before any of it is used."""

    def __init__(self, handle: BinaryIO, passphrase: str) -> None:
        self.header, encoded = read_header(handle)
        key, check = _derive(passphrase, self.header.get("kdf") or {})
        if not hmac.compare_digest(_unb64(self.header.get("check", "")), check[:16]):
            raise WrongPassphrase("the passphrase does not open this archive")
        self._handle = handle
        self._aead = AESGCM(key)
        self._aad = hashlib.sha256(MAGIC + encoded).digest()

    def _sealed_chunks(self) -> Iterator[bytes]:
        while True:
            prefix = self._handle.read(4)
            if not prefix:
                return
            size = int.from_bytes(prefix, "big")
            sealed = self._handle.read(size) if len(prefix) == 4 and size <= CHUNK + 16 else b""
            if len(sealed) != size or size < 16:
                raise Damaged("the archive is truncated or altered")
            yield sealed

    def chunks(self) -> Iterator[bytes]:
        """The body's compressed chunks, opened; the last must say it is the last."""
        counter, ahead = 0, self._sealed_chunks()
        current = next(ahead, None)
        while current is not None:
            following = next(ahead, None)
            try:
                yield self._aead.decrypt(_nonce(counter, following is None), current, self._aad)
            except InvalidTag as error:
                raise Damaged(f"the archive was altered or damaged (chunk {counter})") from error
            counter, current = counter + 1, following
        if counter == 0:
            raise Damaged("the archive is truncated: it has no body")

    def records(self) -> Iterator[Any]:
        """The body: one JSON value a line."""
        inflate = zlib.decompressobj()
        rest = b""
        for chunk in self.chunks():
            try:
                rest += inflate.decompress(chunk)
            except zlib.error as error:
                raise Damaged("the archive's body is not readable") from error
            *lines, rest = rest.split(b"\n")
            yield from (json.loads(line) for line in lines)
        if rest or not inflate.eof:
            raise Damaged("the archive's body ends in the middle of a record")


def seal_secret(secret: bytes, passphrase: str) -> dict[str, Any]:
    """``secret`` sealed by a passphrase of its own (AES-256-GCM, scrypt)."""
    kdf = _new_kdf()
    key, _ = _derive(passphrase, kdf)
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(key).encrypt(nonce, secret, _SECRET_CONTEXT)
    return {"kdf": kdf, "sealed": _b64(nonce + sealed)}


def open_secret(document: dict[str, Any], passphrase: str) -> bytes:
    key, _ = _derive(passphrase, document.get("kdf") or {})
    raw = _unb64(document.get("sealed", ""))
    try:
        return AESGCM(key).decrypt(raw[:12], raw[12:], _SECRET_CONTEXT)
    except InvalidTag as error:
        raise WrongPassphrase("the master key passphrase does not open the archived key") from error
