"""Server-side SSO sessions in the expiring store, and the cookie that names one.

The cookie holds ``<sid>.<secret>``: ``sid`` is public (it is the `sid` claim in ID and logout
tokens), the secret is checked against a digest in the session record, so knowing a sid is not
enough to use a session.

Two keys make a session: the record (``kv_keys.session``), written at sign-in and
re-authentication and living until the absolute limit, and the idle timer
(``kv_keys.session_seen``), which use renews. A session lives while both do. Use never
rewrites the record, so it cannot race a logout or a re-authentication into bringing back an
old record.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field, fields
from typing import Protocol
from urllib.parse import urlsplit

import orjson

from gateway.identity.web import CookieJar
from store import kv_keys
from store.clock import Clock
from store.kv import ExpiringStore, Step

_TOUCH_EVERY = 60.0  # seconds between idle-timer renewals, to spare the store a write a request
_LISTED_LIMIT = 100_000  # (session, client) pairs remembered as listed, then forgotten at once


@dataclass
class SsoSession:
    sid: str
    account_id: str
    auth_time: float
    amr: list[str]
    acr: str
    created_at: float
    secret_digest: str
    user_agent: str = ""
    ip: str = ""
    idp: str = "local"  # the login system used to sign in
    idp_subject: str = ""  # who the person is there
    region: dict[str, str] = field(default_factory=dict)  # ``Region.as_dict()`` of the address
    unfamiliar: bool = False  # a new device in a new province (identity/places.py)
    last_seen: float = 0.0  # from the idle timer, not stored in the record


_RECORD_FIELDS = tuple(f.name for f in fields(SsoSession) if f.name != "last_seen")


@dataclass(frozen=True)
class SessionApp:
    """An app used in a session, as its protocol's single logout needs it: OIDC needs only the
    client; a CAS app, each service ticket and the service it went to (CAS 3.0 §2.3.3)."""

    protocol: str  # "oidc", "cas"
    client_id: str
    details: tuple[tuple[str, str], ...] = ()

    def detail(self, name: str) -> str:
        return dict(self.details).get(name, "")

    def encode(self) -> str:
        # An OIDC client stays its bare id, as sessions have always recorded it.
        if self.protocol == "oidc":
            return self.client_id
        return orjson.dumps([self.protocol, self.client_id, dict(self.details)]).decode()

    @classmethod
    def decode(cls, member: str) -> SessionApp:
        if not member.startswith("["):
            return cls("oidc", member)
        protocol, client_id, details = orjson.loads(member)
        return cls(protocol, client_id, tuple(sorted(details.items())))


class SessionSettings(Protocol):
    """The settings sessions read (``gateway.server.settings.Settings`` has them)."""

    @property
    def issuer(self) -> str: ...

    @property
    def session_idle_seconds(self) -> int: ...

    @property
    def session_max_seconds(self) -> int: ...


class SessionService:
    def __init__(self, store: ExpiringStore, settings: SessionSettings, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._idle = settings.session_idle_seconds
        self._max = settings.session_max_seconds
        self._listed: set[tuple[str, str]] = set()  # (sid, client_id) this process added
        self.secure = urlsplit(settings.issuer).scheme == "https"
        # RFC 6265bis §4.1.3.2: a __Host- cookie is Secure, host-only and Path=/.
        self.cookie_name = "__Host-yht_session" if self.secure else "yht_session"

    def set_cookie(self, response: CookieJar, cookie: str) -> None:
        response.set_cookie(
            self.cookie_name, cookie, httponly=True, secure=self.secure, samesite="lax", path="/"
        )

    def clear_cookie(self, response: CookieJar) -> None:
        response.delete_cookie(
            self.cookie_name, path="/", secure=self.secure, httponly=True, samesite="lax"
        )

    def _encode(self, session: SsoSession) -> bytes:
        return orjson.dumps({name: getattr(session, name) for name in _RECORD_FIELDS})

    def _left(self, session: SsoSession, now: float) -> float:
        return session.created_at + self._max - now

    def _seen_entry(self, session: SsoSession, now: float) -> list[tuple[str, bytes, float]]:
        """The idle stamp's write, none when the session has no time left."""
        session.last_seen = now
        idle = min(self._idle, self._left(session, now))
        return [(kv_keys.session_seen(session.sid), repr(now).encode(), idle)] if idle > 0 else []

    async def _seen(self, session: SsoSession, now: float) -> None:
        for entry in self._seen_entry(session, now):
            await self._store.put(*entry)

    def new(
        self,
        account_id: str,
        amr: list[str],
        acr: str,
        user_agent: str,
        ip: str,
        idp: str = "local",
        idp_subject: str = "",
        region: dict[str, str] | None = None,
        unfamiliar: bool = False,
    ) -> tuple[str, SsoSession]:
        """A new session and its cookie value, not stored yet: ``store`` it before the cookie
        is handed out. Its sid is known before then, so writes that name it can go with it."""
        now = self._clock.now()
        sid, secret = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        session = SsoSession(
            sid=sid,
            account_id=account_id,
            auth_time=now,
            amr=amr,
            acr=acr,
            created_at=now,
            secret_digest=_digest(secret),
            user_agent=user_agent[:200],
            ip=ip,
            idp=idp,
            idp_subject=idp_subject,
            region=region or {},
            unfamiliar=unfamiliar,
        )
        return f"{sid}.{secret}", session

    async def store(self, session: SsoSession, *also: tuple[str, bytes, float]) -> None:
        """Store a ``new`` session, and with it ``also`` (other (key, value, ttl) writes of the
        same step). Its record and idle stamp go in one round trip, its place in the account's
        set beside them: the cookie, which alone makes the session usable, is handed out only
        once all are stored."""
        stamp = self._seen_entry(session, session.created_at)
        record = (kv_keys.session(session.sid), self._encode(session), self._max)
        await self._store.many(
            *(Step("put", entry) for entry in (record, *stamp, *also)),
            Step("set_add", (kv_keys.sessions_of(session.account_id), session.sid, self._max)),
        )

    async def reauthenticate(
        self,
        session: SsoSession,
        amr: list[str],
        acr: str,
        idp: str = "local",
        idp_subject: str = "",
    ) -> str | None:
        """The same person signed in again: keep the session (its sid is known to the apps)
        but renew the authentication time and the cookie secret. None if it just ended."""
        now = self._clock.now()
        secret = secrets.token_urlsafe(32)
        session.auth_time = now
        session.amr, session.acr = amr, acr
        session.idp, session.idp_subject = idp, idp_subject
        session.secret_digest = _digest(secret)
        left = self._left(session, now)
        if left <= 0 or not await self._store.replace(
            kv_keys.session(session.sid), self._encode(session), left
        ):
            return None
        await self._seen(session, now)
        return f"{session.sid}.{secret}"

    async def raise_acr(self, session: SsoSession, acr: str) -> bool:
        """A level proven after the sign-in (a real-name check): the session's acr becomes
        ``acr``; the authentication time and the cookie stay. False if it just ended."""
        session.acr = acr
        left = self._left(session, self._clock.now())
        return left > 0 and await self._store.replace(
            kv_keys.session(session.sid), self._encode(session), left
        )

    async def from_cookie(self, cookie: str | None) -> SsoSession | None:
        """The live session the cookie names, its idle timer renewed; None otherwise."""
        if not cookie or "." not in cookie:
            return None
        sid, _, secret = cookie.partition(".")
        session = await self.get(sid)
        if session is None or not hmac.compare_digest(
            _digest(secret).encode(), session.secret_digest.encode()
        ):
            return None
        await self.touch(session)
        return session

    async def touch(self, session: SsoSession) -> None:
        """Renew the idle timer (at most once a minute)."""
        now = self._clock.now()
        if now - session.last_seen >= _TOUCH_EVERY:
            await self._seen(session, now)

    async def get(self, sid: str) -> SsoSession | None:
        raw, seen = await self._store.get_many(kv_keys.session(sid), kv_keys.session_seen(sid))
        if raw is None or seen is None:
            return None
        stored = orjson.loads(raw)
        session = SsoSession(**{k: v for k, v in stored.items() if k in _RECORD_FIELDS})
        session.last_seen = float(seen)
        now = self._clock.now()
        if self._left(session, now) <= 0 or now - session.last_seen >= self._idle:
            return None
        return session

    async def add_client(self, session: SsoSession, client_id: str) -> None:
        """Remember that ``client_id`` got tokens in this session (a set: concurrent sign-ins
        to two apps both count). Once per session and client in this process: a member leaves
        the set only with the session, and the set outlives the session (``_max`` from an add
        made while the session lives), so an app's next visits need no command."""
        pair = (session.sid, client_id)
        if pair in self._listed:
            return
        await self.add_app(session.sid, SessionApp("oidc", client_id))
        if len(self._listed) >= _LISTED_LIMIT:
            self._listed.clear()
        self._listed.add(pair)

    async def add_app(self, sid: str, app: SessionApp) -> None:
        """Remember an app used in this session, for its protocol's single logout."""
        await self._store.set_add(kv_keys.session_clients(sid), app.encode(), self._max)

    async def apps_of(self, sid: str) -> list[SessionApp]:
        members = await self._store.set_members(kv_keys.session_clients(sid))
        return sorted((SessionApp.decode(m) for m in members), key=lambda a: a.encode())

    async def clients_of(self, sid: str) -> list[str]:
        return sorted({app.client_id for app in await self.apps_of(sid)})

    async def end(self, sid: str) -> tuple[SsoSession, list[SessionApp]] | None:
        """Delete the session; returns it and the apps used in it, for logout notifications."""
        session = await self.get(sid)
        clients = await self.apps_of(sid)
        if not await self._store.delete(kv_keys.session(sid)) or session is None:
            return None  # somebody else ended it first and notified
        await self._store.delete(kv_keys.session_seen(sid))
        await self._store.delete(kv_keys.session_clients(sid))
        await self._store.set_remove(kv_keys.sessions_of(session.account_id), sid)
        return session, clients

    async def of_account(self, account_id: str) -> list[SsoSession]:
        sessions = []
        for sid in await self._store.set_members(kv_keys.sessions_of(account_id)):
            if (session := await self.get(sid)) is not None:
                sessions.append(session)
            else:
                await self._store.set_remove(kv_keys.sessions_of(account_id), sid)
        return sorted(sessions, key=lambda s: s.created_at, reverse=True)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
