"""OIDC Back-Channel Logout 1.0: a signed logout token POSTed to each client of an ended
session, retried a few times in the background; every outcome goes to the audit log."""

from __future__ import annotations

import asyncio
import logging
import secrets

import httpx

from gateway.server.services import Services

audit = logging.getLogger("yihaotong.audit")
LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
RETRY_DELAYS = (0.0, 1.0, 5.0)
TIMEOUT = 5.0


def logout_token(services: Services, client_id: str, subject: str, sid: str | None) -> str:
    """The logout token (OIDC Back-Channel Logout 1.0 §2.4): ``sid`` for one session, none
    when every session of the subject ends (a closed account)."""
    now = int(services.clock.now())
    claims = {
        "iss": services.settings.issuer,
        "sub": subject,
        "aud": client_id,
        "iat": now,
        "exp": now + 120,
        "jti": secrets.token_urlsafe(16),
        "events": {LOGOUT_EVENT: {}},
    }
    if sid is not None:
        claims["sid"] = sid
    alg = "RS256" if "RS256" in services.keys.algs else services.keys.default_alg
    return services.keys.sign(claims, alg, typ="logout+jwt")


class BackchannelNotifier:
    def __init__(self, services: Services) -> None:
        self._services = services
        self._http = httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False)
        self._tasks: set[asyncio.Task[bool]] = set()

    def notify(self, client_id: str, uri: str, subject: str, sid: str | None) -> asyncio.Task[bool]:
        task = asyncio.create_task(self._deliver(client_id, uri, subject, sid))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _deliver(self, client_id: str, uri: str, subject: str, sid: str | None) -> bool:
        token = logout_token(self._services, client_id, subject, sid)
        outcome = "unreachable"
        for attempt, delay in enumerate(RETRY_DELAYS, start=1):
            await asyncio.sleep(delay)
            try:
                response = await self._http.post(
                    uri,
                    data={"logout_token": token},
                    headers={"Cache-Control": "no-store"},
                )
            except httpx.HTTPError as error:
                outcome = type(error).__name__
                continue
            if response.status_code in (200, 204):
                audit.info(
                    "back-channel logout delivered",
                    extra={"fields": {"event": "logout.backchannel", "client": client_id,
                                      "attempts": attempt, "outcome": "delivered"}},
                )  # fmt: skip
                return True
            outcome = f"HTTP {response.status_code}"
            if response.status_code == 400:
                break  # the client refused the token; sending it again will not help
        audit.warning(
            "back-channel logout failed",
            extra={"fields": {"event": "logout.backchannel", "client": client_id,
                              "outcome": outcome}},
        )  # fmt: skip
        return False

    async def drain(self) -> None:
        """Wait for deliveries under way (at shutdown, and in tests)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self) -> None:
        await self.drain()
        await self._http.aclose()
