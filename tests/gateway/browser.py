"""A scripted browser for SSO tests: real HTTP, a cookie jar, and the sign-in and consent forms
filled in the way a person would (reading the CSRF token and transaction from the page)."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import ssl
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import httpx

# One TLS context for the tests' HTTP clients: httpx otherwise reads the CA bundle for each
# client it makes (a twentieth of a second or more), and these clients speak plain HTTP anyway.
TLS = ssl.create_default_context()


def hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no hidden field {name}"
    return match.group(1)


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.decode().rstrip("=")


@dataclass
class Arrival:
    """Where the browser ended up outside the gateway (at a client's redirect URI)."""

    response: httpx.Response

    @property
    def location(self) -> str:
        return self.response.headers["location"]

    @property
    def params(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(urlsplit(self.location).query).items()}


class Browser:
    def __init__(
        self, base_url: str, user_agent: str = "Mozilla/5.0 (X11; Linux x86_64) Test"
    ) -> None:
        self.base_url = base_url
        self.http = httpx.AsyncClient(
            verify=TLS,
            base_url=base_url,
            follow_redirects=False,
            headers={"User-Agent": user_agent},
        )
        self.pages: list[str] = []  # paths of the gateway pages shown on the way

    async def close(self) -> None:
        await self.http.aclose()

    def _internal(self, location: str) -> bool:
        return location.startswith("/") or location.startswith(self.base_url)

    async def go(
        self,
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        consent: str = "allow",
        provider: str | None = None,
    ) -> httpx.Response:
        """Follow the gateway's redirects and fill its forms; returns the first response that
        leaves the gateway (a redirect to a client) or a page with nothing left to fill."""
        response = await self.http.get(url)
        for _ in range(12):
            if response.status_code in (302, 303) and self._internal(response.headers["location"]):
                response = await self.http.get(response.headers["location"])
                continue
            path = response.request.url.path
            if response.status_code == 200 and path == "/login" and username is not None:
                self.pages.append("/login")
                response = await self.http.post(
                    "/login",
                    data={
                        "tx": hidden(response.text, "tx"),
                        "csrf_token": hidden(response.text, "csrf_token"),
                        "username": username,
                        "password": password or "",
                        **({"provider": provider} if provider else {}),
                    },
                )
                username = None  # once: a second login page means the password was refused
                continue
            if response.status_code == 200 and path == "/consent":
                self.pages.append("/consent")
                response = await self.http.post(
                    "/consent",
                    data={
                        "tx": hidden(response.text, "tx"),
                        "csrf_token": hidden(response.text, "csrf_token"),
                        "decision": consent,
                    },
                )
                continue
            return response
        raise AssertionError("too many steps")
