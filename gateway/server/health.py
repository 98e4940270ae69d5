"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from gateway.identity.audit import SPOOL_LIMIT
from gateway.server.services import Services

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


def _audit_check(backlog: dict[str, Any]) -> str:
    """Audit entries waiting in the local spool keep the instance serving (they are on its
    disk, and every instance taken out would make an outage of a database fault); an instance
    that cannot keep entries, or whose spool has grown past the limit, is taken out."""
    if backlog["unwritable"]:
        return f"unavailable: {backlog['unwritable']}"
    if backlog["entries"] > SPOOL_LIMIT:
        return f"unavailable: more than {SPOOL_LIMIT} entries wait in the local spool"
    if backlog["entries"]:
        return "degraded: entries wait in the local spool for the database"
    return "ok"


async def readyz(request: Request) -> JSONResponse:
    """Ready when the database and the expiring store both answer and audit entries can be
    kept; "degraded" (still 200) while audit entries wait in the local spool. The reason names
    the failing part but never its address or credentials."""
    services: Services = request.app.state.services
    database, store = await asyncio.gather(
        _check(services.database.ping), _check(services.expiring.ping)
    )
    backlog = services.audit.backlog()
    checks = {"database": database, "expiring_store": store, "audit": _audit_check(backlog)}
    ready = all(value == "ok" or value.startswith("degraded") for value in checks.values())
    degraded = any(value != "ok" for value in checks.values())
    status = "unavailable" if not ready else "degraded" if degraded else "ready"
    spool = {"entries": backlog["entries"], "oldest_age_s": backlog["oldest_age_s"]}
    return JSONResponse(
        {"status": status, "checks": checks, "audit_spool": spool},
        status_code=200 if ready else 503,
        headers={"Cache-Control": "no-store"},
    )
