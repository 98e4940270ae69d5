"""OIDC Back-Channel Logout 1.0: a signed logout token POSTed to each client of an ended
session, retried a few times in the background; every outcome goes to the audit log. Other
protocols' server-to-server logout notices (CAS) go through the same delivery."""

from __future__ import annotations

import asyncio
import logging
import secrets

import httpx

from gateway.identity.metrics import BACKCHANNEL
from gateway.server.services import Services

audit = logging.getLogger("yihaotong.audit")
LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
RETRY_DELAYS = (0.0, 1.0, 5.0)
TIMEOUT = 5.0
_CHANNELS = {"logout.backchannel": "oidc", "logout.cas": "cas", "logout.saml": "saml"}


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
        # Made at the first delivery: its TLS context (the CA bundle) costs a startup that
        # most gateways never need.
        self._http: httpx.AsyncClient | None = None
        self._tasks: set[asyncio.Task[bool]] = set()

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False)
        return self._http

    def notify(self, client_id: str, uri: str, subject: str, sid: str | None) -> asyncio.Task[bool]:
        token = logout_token(self._services, client_id, subject, sid)
        return self.post(client_id, uri, {"logout_token": token}, "logout.backchannel")

    def post(
        self,
        client_id: str,
        uri: str,
        form: dict[str, str],
        event: str,
        delivered: tuple[int, ...] = (200, 204),
    ) -> asyncio.Task[bool]:
        """POST ``form`` to ``uri`` in the background, retried until an answer with a status
        in ``delivered``; audited as ``event``."""
        task = asyncio.create_task(self._deliver(client_id, uri, form, event, delivered))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _deliver(
        self,
        client_id: str,
        uri: str,
        form: dict[str, str],
        event: str,
        delivered: tuple[int, ...],
    ) -> bool:
        outcome = "unreachable"
        for attempt, delay in enumerate(RETRY_DELAYS, start=1):
            await asyncio.sleep(delay)
            try:
                response = await self._client().post(
                    uri,
                    data=form,
                    headers={"Cache-Control": "no-store"},
                )
            except httpx.HTTPError as error:
                outcome = type(error).__name__
                continue
            if response.status_code in delivered:
                BACKCHANNEL.labels(_CHANNELS.get(event, "other"), "delivered").inc()
                audit.info(
                    "back-channel logout delivered",
                    extra={"fields": {"event": event, "client": client_id,
                                      "attempts": attempt, "outcome": "delivered"}},
                )  # fmt: skip
                return True
            outcome = f"HTTP {response.status_code}"
            if response.status_code == 400:
                break  # the client refused the token; sending it again will not help
        BACKCHANNEL.labels(_CHANNELS.get(event, "other"), "failed").inc()
        audit.warning(
            "back-channel logout failed",
            extra={"fields": {"event": event, "client": client_id,
                              "outcome": outcome}},
        )  # fmt: skip
        return False

    async def drain(self) -> None:
        """Wait for deliveries under way (at shutdown, and in tests)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self) -> None:
        await self.drain()
        if self._http is not None:
            await self._http.aclose()
