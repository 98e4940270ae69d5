"""A hashcash-style challenge asked before repeated SMS sends: find a nonce such that
SHA-256(salt ":" nonce) starts with ``bits`` zero bits. A small script in the page solves it in
about a second; without scripts the person waits instead (``not_before``), which costs a
sender of many messages as much time and asks nothing of a person's eyes or hands."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Challenge:
    salt: str
    bits: int
    not_before: float  # when waiting is proof enough

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def new(bits: int, wait_seconds: float, now: float) -> Challenge:
    return Challenge(secrets.token_hex(16), bits, now + wait_seconds)


def leading_zero_bits(digest: bytes) -> int:
    value = int.from_bytes(digest, "big")
    return len(digest) * 8 - value.bit_length()


def met(challenge: Challenge, nonce: str, now: float) -> bool:
    """Whether ``nonce`` solves the challenge, or the wait is over."""
    if now >= challenge.not_before:
        return True
    if not nonce or len(nonce) > 32:
        return False
    digest = hashlib.sha256(f"{challenge.salt}:{nonce}".encode()).digest()
    return leading_zero_bits(digest) >= challenge.bits
