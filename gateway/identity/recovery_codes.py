"""Recovery codes for the authenticator app: ten readable codes (``k7m2-9xqa``) shown once,
kept only as keyed digests, each accepted once in place of a TOTP code. A new set voids the
old one."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from store.clock import Clock
from store.recovery_codes import RecoveryCodeStore

COUNT = 10
# No 0/o, 1/l/i: a code copied from paper is read back without doubt (31 symbols, 8 of them).
ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
LENGTH = 8


def _normalised(code: str) -> str:
    return "".join(c for c in code.strip().lower() if c not in " -")


def looks_like_one(code: str) -> bool:
    typed = _normalised(code)
    return len(typed) == LENGTH and all(c in ALPHABET for c in typed)


class RecoveryCodes:
    def __init__(self, store: RecoveryCodeStore, key: bytes, clock: Clock) -> None:
        self._store = store
        self._key = key
        self._clock = clock

    def _digest(self, account_id: str, code: str) -> str:
        material = f"{account_id}\x00{_normalised(code)}".encode()
        return hmac.new(self._key, material, hashlib.sha256).hexdigest()

    async def generate(self, account_id: str) -> list[str]:
        """A new set of codes (to be shown once); the old set is void."""
        codes = []
        while len(codes) < COUNT:
            raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
            code = f"{raw[:4]}-{raw[4:]}"
            if code not in codes:
                codes.append(code)
        digests = [self._digest(account_id, code) for code in codes]
        await self._store.replace(account_id, digests, self._clock.now())
        return codes

    async def use(self, account_id: str, code: str) -> bool:
        """True once per code of the account's current set."""
        if not looks_like_one(code):
            return False
        return await self._store.use(account_id, self._digest(account_id, code), self._clock.now())

    async def left(self, account_id: str) -> int:
        return await self._store.left(account_id)

    async def remove(self, account_id: str) -> None:
        await self._store.remove(account_id)
