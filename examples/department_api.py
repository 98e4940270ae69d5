"""An example department API (the social security bureau's benefit records) protected by the
yihaotong-resource kit. Run it with

    YIHAOTONG_ISSUER=https://id.example.gov.cn \
    DEPARTMENT_API_AUDIENCE=https://shebao.example.gov.cn \
    DEPARTMENT_API_CLIENT_ID=... DEPARTMENT_API_CLIENT_SECRET=... \
    uvicorn --factory examples.department_api:from_environment

On several instances, set ``DEPARTMENT_API_REDIS_URL`` (the DPoP replay cache they share) and,
to give out DPoP nonces, ``DEPARTMENT_API_DPOP_NONCE_SECRET`` (the same on every instance).
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from yihaotong_resource import (
    Principal,
    RedisReplayCache,
    ReplayCache,
    ResourceConfig,
    ResourceServer,
    logout_route,
)

log = logging.getLogger("department_api")


def create_app(config: ResourceConfig, replay_cache: ReplayCache | None = None) -> Starlette:
    api = ResourceServer(config, replay_cache=replay_cache)
    ended: list[dict[str, Any]] = []  # what the logout hook saw, for people (and tests) to read

    def caller(request: Request) -> dict[str, Any]:
        principal: Principal = request.state.principal
        return {"client_id": principal.client_id, "subject": principal.subject,
                "token_type": principal.token_type, "acr": principal.acr}  # fmt: skip

    @api.requires(scope="data.read")
    async def read_record(request: Request) -> JSONResponse:
        return JSONResponse({"record": request.path_params["record"], "caller": caller(request)})

    @api.requires(scope="data.write")
    async def write_record(request: Request) -> JSONResponse:
        return JSONResponse({"stored": True, "caller": caller(request)}, status_code=201)

    @api.requires(scope="data.read", acr=("L2", "L3"))
    async def pay_out(request: Request) -> JSONResponse:
        return JSONResponse({"paid": True, "caller": caller(request)})

    async def on_logout(subject: str | None, sid: str | None, claims: dict[str, Any]) -> None:
        log.info("session ended by the gateway")
        ended.append({"sub": subject, "sid": sid})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await api.close()

    app = Starlette(
        routes=[
            Route("/records/{record}", read_record, methods=["GET"]),
            Route("/records", write_record, methods=["POST"]),
            Route("/payments", pay_out, methods=["POST"]),
            logout_route(api, "/backchannel-logout", on_logout),
        ],
        lifespan=lifespan,
    )
    app.state.resource_server = api
    app.state.ended_sessions = ended
    return app


def from_environment() -> Starlette:
    redis_url = os.environ.get("DEPARTMENT_API_REDIS_URL")
    nonce_secret = os.environ.get("DEPARTMENT_API_DPOP_NONCE_SECRET")
    return create_app(
        ResourceConfig(
            issuer=os.environ["YIHAOTONG_ISSUER"],
            audience=os.environ["DEPARTMENT_API_AUDIENCE"],
            client_id=os.environ.get("DEPARTMENT_API_CLIENT_ID"),
            client_secret=os.environ.get("DEPARTMENT_API_CLIENT_SECRET"),
            dpop_nonce_secret=nonce_secret.encode() if nonce_secret else None,
        ),
        RedisReplayCache.from_url(redis_url) if redis_url else None,
    )
