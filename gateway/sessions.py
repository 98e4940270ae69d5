"""Server-side SSO sessions in the expiring store, and the cookie that names one.

The cookie holds ``<sid>.<secret>``: ``sid`` is public (it is the `sid` claim in ID and logout
tokens), the secret is checked against a digest in the session record, so knowing a sid is not
enough to use a session."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import asdict, dataclass, field
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
    clients: list[str] = field(default_factory=list)  # clients given tokens in this session
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

    async def _save(self, session: SsoSession, now: float) -> None:
        ttl = self._ttl(session, now)
        if ttl > 0:
            await self._store.put(f"sso:{session.sid}", json.dumps(asdict(session)).encode(), ttl)

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
        await self._save(session, now)
        await self._index(account_id, sid, add=True)
        return f"{sid}.{secret}", session

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
            await self._save(session, now)

    async def get(self, sid: str) -> SsoSession | None:
        raw = await self._store.get(f"sso:{sid}")
        if raw is None:
            return None
        session = SsoSession(**json.loads(raw))
        return session if self._ttl(session, self._clock.now()) > 0 else None

    async def add_client(self, session: SsoSession, client_id: str) -> None:
        if client_id not in session.clients:
            session.clients.append(client_id)
            await self._save(session, self._clock.now())

    async def end(self, sid: str) -> SsoSession | None:
        """Delete the session; returns what it was, for logout notifications."""
        session = await self.get(sid)
        await self._store.delete(f"sso:{sid}")
        if session is not None:
            await self._index(session.account_id, sid, add=False)
        return session

    async def of_account(self, account_id: str) -> list[SsoSession]:
        sessions = []
        for sid in await self._sids(account_id):
            if (session := await self.get(sid)) is not None:
                sessions.append(session)
        return sorted(sessions, key=lambda s: s.created_at, reverse=True)

    async def _sids(self, account_id: str) -> list[str]:
        raw = await self._store.get(f"sso-of:{account_id}")
        return json.loads(raw) if raw else []

    async def _index(self, account_id: str, sid: str, add: bool) -> None:
        sids = [s for s in await self._sids(account_id) if s != sid and await self.get(s)]
        if add:
            sids.append(sid)
        key = f"sso-of:{account_id}"
        if sids:
            await self._store.put(key, json.dumps(sids[-50:]).encode(), self._max)
        else:
            await self._store.delete(key)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
