"""Server-provided DPoP nonces (RFC 9449 §9): a proof must carry a nonce the API gave out
recently, which bounds how long a proof made in advance stays usable.

Stateless: a nonce is the time window's number with an HMAC under a secret all the API's
instances share, so any instance accepts what another gave. The current and the previous
window are accepted; a client with an older nonce is told ``use_dpop_nonce`` with a new one."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable

_MAC_BYTES = 16


class DPoPNonces:
    def __init__(self, secret: bytes, lifetime: int, clock: Callable[[], float]) -> None:
        if len(secret) < 16:
            raise ValueError("the DPoP nonce secret needs at least 16 bytes")
        if lifetime <= 0:
            raise ValueError("the DPoP nonce lifetime must be positive")
        self._secret = secret
        self._lifetime = lifetime
        self._clock = clock

    def _window(self) -> int:
        return int(self._clock() // self._lifetime)

    def _nonce(self, window: int) -> str:
        text = str(window).encode()
        mac = hmac.new(self._secret, text, hashlib.sha256).digest()[:_MAC_BYTES]
        return base64.urlsafe_b64encode(text + b"." + mac).rstrip(b"=").decode()

    def current(self) -> str:
        """The nonce to hand out now (``DPoP-Nonce``)."""
        return self._nonce(self._window())

    def valid(self, nonce: object) -> bool:
        if not isinstance(nonce, str) or len(nonce) > 128:
            return False
        now = self._window()
        return any(hmac.compare_digest(nonce, self._nonce(w)) for w in (now, now - 1))
