"""Device cookies, as OWASP's "Slow Down Online Guessing Attacks with Device Cookies" describes:
a browser that signed in to a sign-in name gets a cookie that lets it pass that name's lockout.

The cookie holds up to ``MAX_NAMES`` entries ``<nonce>.<issued>.<mac>``, one a name, where the
MAC (HMAC-SHA256 under a key derived from the master key) binds the random nonce and the issue
time to the sign-in name: the name is never in the cookie, a forged entry or one issued for
another name passes nothing, and the nonce is the device's id for its own failure counter.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from gateway.server.services import Services

COOKIE = "yht_device"
MAX_NAMES = 5  # names one browser is remembered for (shared computers sign in several people)
_MAX_COOKIE = 512  # longer values are not ours: ignored unread
_CLOCK_SKEW = 60.0  # seconds an entry may seem to come from the future (instances' clocks)


class DeviceCookies:
    def __init__(self, key: bytes, secure: bool, max_age: int, now: float) -> None:
        self._key = key
        self._secure = secure
        self._max_age = max_age
        self._now = now
        # RFC 6265bis §4.1.3.2: a __Host- cookie is Secure, host-only and Path=/.
        self.cookie_name = ("__Host-" if secure else "") + COOKIE

    @classmethod
    def of(cls, services: Services) -> DeviceCookies:
        settings = services.settings
        return cls(
            services.master_key.derive("device-cookie"),
            urlsplit(settings.issuer).scheme == "https",
            settings.device_cookie_days * 86400,
            services.clock.now(),
        )

    def _mac(self, nonce: str, issued: str, name: str) -> str:
        message = f"{nonce}.{issued}.{name}".encode()
        mac = hmac.new(self._key, message, hashlib.sha256).digest()[:16]
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def _entries(self, request: Request) -> list[str]:
        value = request.cookies.get(self.cookie_name, "")
        if self._max_age <= 0 or len(value) > _MAX_COOKIE:
            return []
        return [entry for entry in value.split("~") if entry.count(".") == 2][:MAX_NAMES]

    def _live(self, issued: str) -> bool:
        if not (issued.isascii() and issued.isdigit()):
            return False
        return int(issued) <= self._now + _CLOCK_SKEW and self._now - int(issued) <= self._max_age

    def _valid_for(self, entry: str, name: str) -> str | None:
        """The entry's nonce when it is live and issued for ``name``."""
        nonce, issued, mac = entry.split(".")
        if not self._live(issued):
            return None
        # Bytes: compare_digest refuses non-ASCII str, and a cookie can hold anything.
        if not hmac.compare_digest(self._mac(nonce, issued, name).encode(), mac.encode()):
            return None
        return nonce

    def device_for(self, request: Request, name: str) -> str | None:
        """The id of this browser's device cookie for the sign-in name, if it holds a valid one."""
        for entry in self._entries(request):
            if (nonce := self._valid_for(entry, name)) is not None:
                return nonce
        return None

    def remember(self, request: Request, response: Response, name: str) -> None:
        """After a successful sign-in with ``name``: a fresh entry for it, first in the cookie,
        replacing its earlier one (and so that one's failure count); other names' entries stay."""
        if self._max_age <= 0:
            return
        issued = str(int(self._now))
        nonce = secrets.token_urlsafe(16)
        kept = [
            entry
            for entry in self._entries(request)
            if self._live(entry.split(".")[1]) and self._valid_for(entry, name) is None
        ]
        entries = [f"{nonce}.{issued}.{self._mac(nonce, issued, name)}", *kept][:MAX_NAMES]
        response.set_cookie(
            self.cookie_name,
            "~".join(entries),
            max_age=self._max_age,
            httponly=True,
            secure=self._secure,
            samesite="lax",
            path="/",
        )
