"""Where and on what a sign-in happens, as the sign-in pages see it: the region of the address,
the browser's random device cookie (set on every sign-in, read on the next), and the notice to
the person when the device and the province are both new (``identity/places.py``)."""

from __future__ import annotations

import re
import secrets
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from gateway.identity.places import Arrival
from gateway.identity.regions import Region
from gateway.pages.render import Messages, local_time, messages
from gateway.server.services import Services
from store.records import AuditEvent

COOKIE = "yht_device_id"  # yht_browser is the CSRF cookie
_MAX_AGE = 400 * 86400  # the longest a browser keeps a cookie (RFC 6265bis §5.6)
_BROWSERS = ("Edg", "Firefox", "Chrome", "Safari")
_DEVICE_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
_SYSTEMS = ("Windows", "Mac OS", "Android", "iPhone", "iPad", "Linux")


def _cookie_name(services: Services) -> str:
    # RFC 6265bis §4.1.3.2: a __Host- cookie is Secure, host-only and Path=/.
    return ("__Host-" if _secure(services) else "") + COOKIE


def _secure(services: Services) -> bool:
    return urlsplit(services.settings.issuer).scheme == "https"


def browser_of(user_agent: str) -> str:
    """A short description of a browser for people ("Chrome, Windows")."""
    name = next((b for b in _BROWSERS if f"{b}/" in user_agent), "")
    system = next((s for s in _SYSTEMS if s in user_agent), "")
    return ", ".join(part for part in ("Edge" if name == "Edg" else name, system) if part) or "—"


def region_text(region: Region, t: Messages) -> str:
    """The region as a person reads it: a place, or what kind of address it was."""
    if region.kind == "public" and region.name:
        return region.name
    return t[f"region_{region.kind if region.kind != 'public' else 'unknown'}"]


def address_region(request: Request) -> Region:
    services: Services = request.app.state.services
    return services.places.regions.resolve(request.client.host if request.client else "")


class Place:
    """One sign-in's place: ``arrive`` with the account, then ``finish`` the response."""

    def __init__(self, request: Request) -> None:
        self._request = request
        self._services: Services = request.app.state.services
        held = request.cookies.get(_cookie_name(self._services), "")
        # A browser without one gets a new random id now: a device never seen before.
        valid = _DEVICE_ID.fullmatch(held) is not None
        self.device = held if valid else secrets.token_urlsafe(16)
        self.arrival: Arrival | None = None

    async def arrive(self, account_id: str) -> Arrival:
        region = address_region(self._request)
        self.arrival = await self._services.places.arrive(account_id, self.device, region)
        return self.arrival

    async def tell(self, account_id: str) -> None:
        """An unfamiliar sign-in: audited, and its holder told (by e-mail to the verified
        address where e-mail is configured, else by SMS to the verified phone)."""
        arrival = self.arrival
        if arrival is None or not arrival.unfamiliar:
            return
        services, request = self._services, self._request
        t = messages("zh-CN")  # notices go out in Chinese, as the others do
        browser = browser_of(request.headers.get("user-agent", ""))
        text = t.notice_new_place.format(
            time=local_time(services.clock.now(), services.settings.time_zone),
            region=region_text(arrival.region, t),
            browser=browser,
        )
        sent = await services.notices.send_preferring_mail(
            account_id, "new_place", t.notice_new_place_subject, text, request
        )
        await services.audit.record(
            AuditEvent(
                "login.new_place",
                actor=account_id,
                target=account_id,
                details={**arrival.details(), "browser": browser, "notice_sent": sent},
            ),
            request=request,
        )

    def finish(self, response: Response) -> None:
        """Give the browser its device cookie (the one it had, renewed, or a new one)."""
        response.set_cookie(
            _cookie_name(self._services),
            self.device,
            max_age=_MAX_AGE,
            httponly=True,
            secure=_secure(self._services),
            samesite="lax",
            path="/",
        )
