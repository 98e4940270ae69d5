"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse

from gateway.services import Services

CHECK_TIMEOUT = 2.0


async def healthz(request: Request) -> JSONResponse:
    """The process answers: nothing else is checked."""
    return JSONResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})


async def _check(probe: Callable[[], Awaitable[None]]) -> str:
    try:
        await asyncio.wait_for(probe(), CHECK_TIMEOUT)
    except TimeoutError:
        return f"unreachable: no answer within {CHECK_TIMEOUT:g} s"
    except Exception as error:  # any failure means not ready; the class name is the reason
        return f"unreachable: {type(error).__name__}"
    return "ok"


async def readyz(request: Request) -> JSONResponse:
    """Ready when the database and the expiring store both answer. The reason names the failing
    part but never its address or credentials."""
    services: Services = request.app.state.services
    database, store = await asyncio.gather(
        _check(services.database.ping), _check(services.expiring.ping)
    )
    checks = {"database": database, "expiring_store": store}
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
        headers={"Cache-Control": "no-store"},
    )
