"""CSRF protection for every form: a per-browser random cookie, and in each form an HMAC of it
bound to the form's purpose. A forged cross-site post cannot know the cookie's value."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from starlette.requests import Request
from starlette.responses import Response

BROWSER_COOKIE = "yht_browser"


class Csrf:
    def __init__(self, key: bytes, secure: bool) -> None:
        self._key = key
        self._secure = secure
        self.cookie_name = ("__Host-" if secure else "") + BROWSER_COOKIE

    def browser_id(self, request: Request) -> tuple[str, bool]:
        """The browser's id and whether it is new (then ``set_cookie`` must be called)."""
        current = request.cookies.get(self.cookie_name, "")
        if 20 <= len(current) <= 64:
            return current, False
        return secrets.token_urlsafe(24), True

    def set_cookie(self, response: Response, browser_id: str) -> None:
        response.set_cookie(
            self.cookie_name,
            browser_id,
            httponly=True,
            secure=self._secure,
            samesite="lax",
            path="/",
        )

    def token(self, browser_id: str, purpose: str) -> str:
        mac = hmac.new(self._key, f"{browser_id}|{purpose}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def valid(self, request: Request, presented: str | None, purpose: str) -> bool:
        browser = request.cookies.get(self.cookie_name)
        if not browser or not presented:
            return False
        # Bytes: compare_digest refuses non-ASCII str, and the form can hold anything.
        return hmac.compare_digest(self.token(browser, purpose).encode(), presented.encode())
