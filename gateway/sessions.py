"""Server-side SSO sessions in the expiring store, and the cookie that names one.

The cookie holds ``<sid>.<secret>``: ``sid`` is public (it is the `sid` claim in ID and logout
tokens), the secret is checked against a digest in the session record, so knowing a sid is not
enough to use a session."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

from gateway.settings import Settings
from store.clock import Clock
from store.kv import ExpiringStore

_TOUCH_EVERY = 60.0  # seconds between idle-timer refreshes, to spare the store a write a request


@dataclass
class SsoSession:
    sid: str
    account_id: str
    auth_time: float
    amr: list[str]
    acr: str
    created_at: float
    last_seen: float
    secret_digest: str
    user_agent: str = ""
    ip: str = ""


class SessionService:
    def __init__(self, store: ExpiringStore, settings: Settings, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._idle = settings.session_idle_seconds
        self._max = settings.session_max_seconds
        self.secure = urlsplit(settings.issuer).scheme == "https"
        # RFC 6265bis §4.1.3.2: a __Host- cookie is Secure, host-only and Path=/.
        self.cookie_name = "__Host-yht_session" if self.secure else "yht_session"

    def _ttl(self, session: SsoSession, now: float) -> float:
        return min(session.last_seen + self._idle, session.created_at + self._max) - now

    def _encode(self, session: SsoSession) -> bytes:
        return json.dumps(asdict(session)).encode()

    async def _update(self, session: SsoSession, now: float) -> bool:
        """Rewrite a live session only: an update racing a logout must not revive it."""
        ttl = self._ttl(session, now)
        return ttl > 0 and await self._store.replace(
            f"sso:{session.sid}", self._encode(session), ttl
        )

    async def create(
        self, account_id: str, amr: list[str], acr: str, user_agent: str, ip: str
    ) -> tuple[str, SsoSession]:
        """A new session; returns the cookie value (shown to nobody but the browser)."""
        now = self._clock.now()
        sid, secret = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        session = SsoSession(
            sid=sid,
            account_id=account_id,
            auth_time=now,
            amr=amr,
            acr=acr,
            created_at=now,
            last_seen=now,
            secret_digest=_digest(secret),
            user_agent=user_agent[:200],
            ip=ip,
        )
        await self._store.put(f"sso:{sid}", self._encode(session), self._ttl(session, now))
        await self._store.set_add(f"sso-of:{account_id}", sid, self._max)
        return f"{sid}.{secret}", session

    async def reauthenticate(self, session: SsoSession, amr: list[str], acr: str) -> str | None:
        """The same person signed in again: keep the session (its sid is known to the apps)
        but renew the authentication time and the cookie secret. None if it just ended."""
        now = self._clock.now()
        secret = secrets.token_urlsafe(32)
        session.auth_time = session.last_seen = now
        session.amr, session.acr = amr, acr
        session.secret_digest = _digest(secret)
        return f"{session.sid}.{secret}" if await self._update(session, now) else None

    async def from_cookie(self, cookie: str | None) -> SsoSession | None:
        """The live session the cookie names, its idle timer refreshed; None otherwise."""
        if not cookie or "." not in cookie:
            return None
        sid, _, secret = cookie.partition(".")
        session = await self.get(sid)
        if session is None or not hmac.compare_digest(_digest(secret), session.secret_digest):
            return None
        await self.touch(session)
        return session

    async def touch(self, session: SsoSession) -> None:
        """Restart the idle timer (at most once a minute, to spare the store)."""
        now = self._clock.now()
        if now - session.last_seen >= _TOUCH_EVERY:
            session.last_seen = now
            await self._update(session, now)

    async def get(self, sid: str) -> SsoSession | None:
        raw = await self._store.get(f"sso:{sid}")
        if raw is None:
            return None
        session = SsoSession(**json.loads(raw))
        return session if self._ttl(session, self._clock.now()) > 0 else None

    async def add_client(self, session: SsoSession, client_id: str) -> None:
        """Remember that ``client_id`` got tokens in this session (a set: concurrent sign-ins
        to two apps both count)."""
        await self._store.set_add(f"sso-clients:{session.sid}", client_id, self._max)

    async def clients_of(self, sid: str) -> list[str]:
        return sorted(await self._store.set_members(f"sso-clients:{sid}"))

    async def end(self, sid: str) -> tuple[SsoSession, list[str]] | None:
        """Delete the session; returns it and its clients, for logout notifications."""
        session = await self.get(sid)
        clients = await self.clients_of(sid)
        if not await self._store.delete(f"sso:{sid}") or session is None:
            return None  # somebody else ended it first and notified
        await self._store.delete(f"sso-clients:{sid}")
        await self._store.set_remove(f"sso-of:{session.account_id}", sid)
        return session, clients

    async def of_account(self, account_id: str) -> list[SsoSession]:
        sessions = []
        for sid in await self._store.set_members(f"sso-of:{account_id}"):
            if (session := await self.get(sid)) is not None:
                sessions.append(session)
            else:
                await self._store.set_remove(f"sso-of:{account_id}", sid)
        return sorted(sessions, key=lambda s: s.created_at, reverse=True)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
