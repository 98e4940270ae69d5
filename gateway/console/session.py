"""The console's own session: the administrator's tokens kept server-side in the expiring
store, named by an HttpOnly, SameSite=Strict cookie (Secure under https) that holds only a
random secret. The record is found by a digest of that secret and encrypted (AES-GCM) with a
key derived from it, so the store alone holds no usable token. It ends after
``console_idle_seconds`` without a page, at sign-out, or when its tokens stop working (the SSO
session ended, the account was disabled)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import asdict, dataclass

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from starlette.requests import Request
from starlette.responses import Response

from gateway.server.services import Services
from store import kv_keys

COOKIE = "yht_console"


@dataclass
class ConsoleSession:
    account_id: str
    access_token: str
    access_expires_at: float
    refresh_token: str | None
    id_token: str
    key: str = ""  # the expiring store's key (not stored)
    secret: str = ""  # the cookie's value (not stored)

    @property
    def csrf_purpose(self) -> str:
        return f"console-form {self.key}"


def cookie_name(services: Services) -> str:
    return ("__Host-" if services.sessions.secure else "") + COOKIE


def _key(secret: str) -> str:
    return kv_keys.console_session(hashlib.sha256(secret.encode()).hexdigest())


def _sealer(secret: str) -> AESGCM:
    return AESGCM(hmac.digest(secret.encode(), b"yihaotong console session record", "sha256"))


async def start(services: Services, response: Response, session: ConsoleSession) -> None:
    secret = secrets.token_urlsafe(32)
    session.key, session.secret = _key(secret), secret
    await save(services, session)
    response.set_cookie(
        cookie_name(services),
        secret,
        httponly=True,
        secure=services.sessions.secure,
        samesite="strict",
        path="/",
    )


async def save(services: Services, session: ConsoleSession) -> None:
    """Store the session, its idle timer started again."""
    data = {k: v for k, v in asdict(session).items() if k not in ("key", "secret")}
    nonce = secrets.token_bytes(12)
    sealed = nonce + _sealer(session.secret).encrypt(nonce, orjson.dumps(data), None)
    await services.expiring.put(session.key, sealed, services.settings.console_idle_seconds)


async def current(services: Services, request: Request) -> ConsoleSession | None:
    secret = request.cookies.get(cookie_name(services), "")
    if not 20 <= len(secret) <= 64:
        return None
    key = _key(secret)
    raw = await services.expiring.get(key)
    if raw is None or len(raw) < 13:
        return None
    try:
        data = orjson.loads(_sealer(secret).decrypt(raw[:12], raw[12:], None))
    except InvalidTag:
        return None
    session = ConsoleSession(**data, key=key, secret=secret)
    await save(services, session)
    return session


async def end(services: Services, session: ConsoleSession | None, response: Response) -> None:
    if session is not None:
        await services.expiring.delete(session.key)
    response.delete_cookie(
        cookie_name(services),
        path="/",
        secure=services.sessions.secure,
        httponly=True,
        samesite="strict",
    )
