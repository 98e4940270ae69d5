"""The front door of a department API: who called (``authenticate``) and whether that caller may
(``requires``), with RFC 6750 / RFC 9449 answers when not."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from yihaotong_resource.config import ResourceConfig
from yihaotong_resource.dpop import verify_proof
from yihaotong_resource.errors import (
    InsufficientAuthentication,
    InsufficientScope,
    InvalidDPoPProof,
    InvalidRequest,
    InvalidToken,
    Refusal,
    refusal_response,
)
from yihaotong_resource.gateway import Gateway, GatewayUnavailable
from yihaotong_resource.introspection import Introspector
from yihaotong_resource.nonces import DPoPNonces
from yihaotong_resource.principal import Principal
from yihaotong_resource.replay import MemoryReplayCache, ReplayCache
from yihaotong_resource.tokens import looks_like_jwt, verify_access_token

Endpoint = Callable[[Request], Awaitable[Response]]


def _credentials(request: Request) -> tuple[str, str]:
    """(scheme, token) of the Authorization header (RFC 6750 §2.1, RFC 9449 §7.1)."""
    values = request.headers.getlist("authorization")
    if not values:
        raise Refusal()
    if len(values) > 1:
        raise InvalidRequest("More than one Authorization header.")
    scheme, _, token = values[0].partition(" ")
    scheme = {"bearer": "Bearer", "dpop": "DPoP"}.get(scheme.lower(), "")
    token = token.strip()
    if not scheme:
        raise Refusal()
    if not token or " " in token:
        raise InvalidRequest("The Authorization header is malformed.")
    return scheme, token


class ResourceServer:
    """One per API: holds the gateway's keys, the introspection cache and the DPoP replay cache.
    Call ``close`` (or ``aclose`` in a lifespan) when the API stops."""

    def __init__(
        self,
        config: ResourceConfig,
        *,
        gateway: Gateway | None = None,
        replay_cache: ReplayCache | None = None,
    ) -> None:
        self.config = config
        self.gateway = gateway or Gateway(config)
        self.introspector = Introspector(config, self.gateway)
        self.replay_cache = replay_cache or MemoryReplayCache(config.clock)
        self.nonces = (
            DPoPNonces(config.dpop_nonce_secret, config.dpop_nonce_lifetime, config.clock)
            if config.dpop_nonce_secret
            else None
        )
        self._ended_sessions: dict[str, float] = {}

    async def close(self) -> None:
        await self.gateway.close()
        closer = getattr(self.replay_cache, "aclose", None)
        if closer is not None:
            await closer()

    def end_session(self, sid: str, ttl: float = 3600.0) -> None:
        """Refuse tokens of SSO session ``sid`` from now on (after a back-channel logout)."""
        now = self.config.clock()
        self._ended_sessions = {s: t for s, t in self._ended_sessions.items() if t > now}
        self._ended_sessions[sid] = now + ttl

    def _url(self, request: Request) -> str:
        if self.config.public_url:
            return self.config.public_url.rstrip("/") + request.url.path
        return str(request.url)

    async def _claims(self, token: str) -> dict[str, Any]:
        if looks_like_jwt(token):
            claims = await verify_access_token(token, self.config, self.gateway)
        else:
            claims = await self.introspector.claims(token)
        sid = claims.get("sid")
        if isinstance(sid, str) and self._ended_sessions.get(sid, 0) > self.config.clock():
            raise InvalidToken("The access token's session has ended.")
        return claims

    async def authenticate(self, request: Request) -> Principal:
        """The verified caller, or a Refusal (GatewayUnavailable when the gateway is down)."""
        scheme, token = _credentials(request)
        claims = await self._claims(token)
        cnf = claims.get("cnf")
        jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
        proofs = request.headers.getlist("dpop")
        if scheme == "Bearer":
            if jkt is not None:  # RFC 9449 §7.2: a bound token is no bearer token
                raise InvalidToken("This access token is DPoP-bound; present it as DPoP.")
            if self.config.require_dpop:
                raise InvalidToken("This API accepts only DPoP-bound access tokens.")
            return Principal.from_claims(claims, "Bearer", None)
        if not isinstance(jkt, str):
            raise InvalidToken("The access token is not DPoP-bound.")
        if len(proofs) != 1:
            raise InvalidDPoPProof("Exactly one DPoP proof is required.")
        await verify_proof(
            proofs[0],
            method=request.method,
            url=self._url(request),
            config=self.config,
            replay=self.replay_cache,
            access_token=token,
            jkt=jkt,
            nonces=self.nonces,
        )
        return Principal.from_claims(claims, "DPoP", jkt)

    def refusal(self, refusal: Refusal, request: Request) -> Response:
        scheme = None
        header = request.headers.get("authorization", "")
        if header[:7].lower() == "bearer ":
            scheme = "Bearer"
        elif header[:5].lower() == "dpop ":
            scheme = "DPoP"
        return refusal_response(refusal, self.config.realm, self.config.dpop_algorithms, scheme)

    def requires(
        self, scope: str | Sequence[str] = (), acr: str | Sequence[str] = ()
    ) -> Requirement:
        """Every scope of ``scope`` and, when given, one of the ``acr`` values."""
        scopes = scope.split() if isinstance(scope, str) else list(scope)
        acrs = [acr] if isinstance(acr, str) else list(acr)
        return Requirement(self, frozenset(scopes), tuple(acrs))


def unavailable() -> Response:
    body = {"error": "temporarily_unavailable",
            "error_description": "The identity gateway cannot be reached."}  # fmt: skip
    return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})


class Requirement:
    """``@api.requires(...)`` on a Starlette endpoint (the caller lands in
    ``request.state.principal``), or ``Depends(api.requires(...).dependency)`` in FastAPI."""

    def __init__(self, server: ResourceServer, scopes: frozenset[str], acrs: tuple[str, ...]):
        self.server = server
        self.scopes = scopes
        self.acrs = acrs

    async def check(self, request: Request) -> Principal:
        principal = await self.server.authenticate(request)
        missing = self.scopes - principal.scopes
        if missing:
            raise InsufficientScope(" ".join(sorted(self.scopes)))
        if self.acrs and principal.acr not in self.acrs:
            raise InsufficientAuthentication(" ".join(self.acrs))
        return principal

    def __call__(self, endpoint: Endpoint) -> Endpoint:
        if not inspect.iscoroutinefunction(endpoint):
            raise TypeError("requires() protects async endpoints")

        @functools.wraps(endpoint)
        async def protected(request: Request) -> Response:
            try:
                request.state.principal = await self.check(request)
            except Refusal as refusal:
                return self.server.refusal(refusal, request)
            except GatewayUnavailable:
                return unavailable()
            response = await endpoint(request)
            if self.server.nonces is not None and request.state.principal.jkt is not None:
                response.headers["DPoP-Nonce"] = self.server.nonces.current()  # §9: the next
            return response

        return protected

    @property
    def dependency(self) -> Callable[[Request], Awaitable[Principal]]:
        """A FastAPI dependency: the Principal, or an HTTPException carrying the challenge."""
        from fastapi import HTTPException

        async def principal(request: Request) -> Principal:
            try:
                return await self.check(request)
            except Refusal as refusal:
                answer = self.server.refusal(refusal, request)
                headers = {"WWW-Authenticate": answer.headers["WWW-Authenticate"]}
                if "DPoP-Nonce" in answer.headers:
                    headers["DPoP-Nonce"] = answer.headers["DPoP-Nonce"]
                raise HTTPException(
                    answer.status_code,
                    refusal.description or refusal.error or "unauthorized",
                    headers=headers,
                ) from None
            except GatewayUnavailable:
                raise HTTPException(503, "The identity gateway cannot be reached.") from None

        return principal
