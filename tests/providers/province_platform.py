"""A small provincial unified authentication platform (ticket -> token -> user, DB37/T 3448
style) on a real socket: it checks every request's signature, signs its answers, issues single-use
tickets and tokens, and seals payloads with SM4 or RSA when asked. Its signing is written here
independently of providers.province_signing, so that both sides check each other."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

import uvicorn
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.asymmetric import padding as rsa_padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.support import free_port

APP_ID = "city-yihaotong"
APP_SECRET = "province-shared-secret"

PERSON = {
    "userId": "P-1001",
    "userType": "1",
    "authLevel": "3",
    "name": "王芳",
    "idCardNo": "11010519491231002X",
    "mobile": "13800138000",
}
COMPANY = {
    "userId": "E-2002",
    "userType": "2",
    "authLevel": "2",
    "corpName": "济南明湖科技有限公司",
    "creditCode": "91350100M000100Y43",
}


def reference_sign(params: dict[str, Any], secret: str, algorithm: str) -> str:
    """The platform's recipe, as its documents state it."""
    items = []
    for key in sorted(params):
        value = params[key]
        if key == "sign" or value in (None, ""):
            continue
        if not isinstance(value, str):
            value = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        items.append(f"{key}={value}")
    text = "&".join(items)
    if algorithm == "hmac-sha256":
        return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest().upper()
    keyed = f"{text}&key={secret}".encode()
    if algorithm == "sm3":
        digest = hashes.Hash(hashes.SM3())
        digest.update(keyed)
        return digest.finalize().hex().upper()
    return hashlib.md5(keyed, usedforsecurity=False).hexdigest().upper()


@dataclass
class Platform:
    url: str
    algorithm: str = "md5"
    secret: str = APP_SECRET
    answer_secret: str = APP_SECRET  # another value: answers signed wrongly
    user: dict[str, Any] = field(default_factory=lambda: dict(PERSON))
    sm4_key: bytes | None = None
    rsa_public: RSAPublicKey | None = None
    ticket_seconds: float = 300
    login_signed: bool = False  # the login page also wants a signed query
    down: bool = False
    tickets: dict[str, tuple[float, dict[str, Any]]] = field(default_factory=dict)
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    seen: list[tuple[str, dict[str, str]]] = field(default_factory=list)  # (path, parameters)
    refused: list[str] = field(default_factory=list)  # why requests were refused

    def _answer(self, code: str, msg: str, data: Any = None) -> JSONResponse:
        if data is not None and self.sm4_key is not None:
            data = self._sm4(json.dumps(data, ensure_ascii=False).encode())
        elif data is not None and self.rsa_public is not None:
            data = self._rsa(json.dumps(data, ensure_ascii=False).encode())
        body: dict[str, Any] = {"code": code, "msg": msg, "timestamp": str(int(time.time()))}
        if data is not None:
            body["data"] = data
        body["sign"] = reference_sign(body, self.answer_secret, self.algorithm)
        return JSONResponse(body)

    def _sm4(self, plain: bytes) -> str:
        iv = os.urandom(16)
        padder = padding.PKCS7(128).padder()
        encryptor = Cipher(algorithms.SM4(self.sm4_key or b""), modes.CBC(iv)).encryptor()
        body = encryptor.update(padder.update(plain) + padder.finalize()) + encryptor.finalize()
        return base64.b64encode(iv + body).decode()

    def _rsa(self, plain: bytes) -> str:
        assert self.rsa_public is not None
        oaep = rsa_padding.OAEP(rsa_padding.MGF1(hashes.SHA256()), hashes.SHA256(), None)
        size = self.rsa_public.key_size // 8 - 66
        chunks = [plain[i : i + size] for i in range(0, len(plain), size)]
        return base64.b64encode(b"".join(self.rsa_public.encrypt(c, oaep) for c in chunks)).decode()

    async def _checked(self, request: Request) -> dict[str, str] | Response:
        body = (await request.body()).decode() if request.method == "POST" else ""
        params = dict(parse_qsl(body)) or dict(request.query_params)
        self.seen.append((request.url.path, params))
        if self.down:
            return Response("maintenance", status_code=503)
        given = params.get("sign", "")
        wanted = reference_sign(params, self.secret, self.algorithm)
        if params.get("appId") != APP_ID or not hmac.compare_digest(given, wanted):
            self.refused.append("sign")
            return self._answer("1001", "签名错误")
        if not params.get("timestamp") or not params.get("nonce"):
            self.refused.append("replay")
            return self._answer("1002", "缺少时间戳")
        return params

    async def login(self, request: Request) -> Response:
        query = dict(request.query_params)
        back = query.get("redirectUrl", "")
        if query.get("appId") != APP_ID or not back:
            return Response("unknown app", status_code=400)
        if self.login_signed and query.get("sign") != reference_sign(
            query, self.secret, self.algorithm
        ):
            self.refused.append("login sign")
            return Response("bad signature", status_code=400)
        ticket = "ST-" + secrets.token_urlsafe(16)
        self.tickets[ticket] = (time.monotonic() + self.ticket_seconds, dict(self.user))
        joiner = "&" if "?" in back else "?"
        return RedirectResponse(f"{back}{joiner}{urlencode({'ticket': ticket})}", 302)

    async def token(self, request: Request) -> Response:
        params = await self._checked(request)
        if isinstance(params, Response):
            return params
        until, user = self.tickets.pop(params.get("ticket", ""), (0.0, None))
        if user is None or until < time.monotonic():
            self.refused.append("ticket")
            return self._answer("2001", "票据无效或已过期")
        token = secrets.token_urlsafe(24)
        self.tokens[token] = user
        return self._answer("0", "ok", {"token": token, "expiresIn": 7200})

    async def user_info(self, request: Request) -> Response:
        params = await self._checked(request)
        if isinstance(params, Response):
            return params
        user = self.tokens.get(params.get("token", ""))
        if user is None:
            self.refused.append("token")
            return self._answer("3001", "令牌无效")
        return self._answer("0", "ok", user)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/login", self.login),
                Route("/api/token", self.token, methods=["GET", "POST"]),
                Route("/api/user", self.user_info, methods=["GET", "POST"]),
            ]
        )


class RunningPlatform:
    """The platform served by uvicorn in a thread, on a free loopback port."""

    def __init__(self, **options: Any) -> None:
        port = free_port()
        self.platform = Platform(url=f"http://127.0.0.1:{port}", **options)
        config = uvicorn.Config(
            self.platform.app(), host="127.0.0.1", port=port, log_config=None, lifespan="off"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Platform:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the platform did not start")
            time.sleep(0.02)
        return self.platform

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
