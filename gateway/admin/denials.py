"""Refused admin attempts in the audit log (``admin.denied``): who tried which operation, and
why it was refused. Recorded for every refusal of the caller (401, 403, and 404 or an
out-of-reach field on a write), in one place: the admin API's dispatcher.

One caller cannot fill the log: each gets ``BURST`` entries a minute (per account; callers
without a valid token share one budget), then one entry saying that further refusals that
minute are counted but not recorded."""

from __future__ import annotations

import logging

from starlette.requests import Request

from gateway.identity.rate_limits import ADMIN_DENIALS, hit
from gateway.server.responses import Missing, Problem
from gateway.server.services import Services
from store import kv_keys
from store.records import AuditEvent

log = logging.getLogger("yihaotong.admin")
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
BURST = ADMIN_DENIALS.count
WINDOW = ADMIN_DENIALS.per


def is_denial(request: Request, problem: Problem) -> bool:
    if problem.denied:
        return True
    return isinstance(problem, Missing) and request.method in WRITES


async def record_denial(
    services: Services,
    request: Request,
    problem: Problem,
    operation: str,
    actor: str | None,
    client_id: str | None,
) -> None:
    """Audit one refusal, within the caller's budget; never fails the response."""
    try:
        seen = await hit(services.expiring, kv_keys.admin_denials(actor), ADMIN_DENIALS)
        if seen > BURST + 1:
            return
        details: dict[str, object] = {
            "operation": operation,
            "method": request.method,
            "status": problem.status,
            "reason": problem.detail,
        }
        if seen == BURST + 1:
            details = {
                "operation": operation,
                "suppressed": True,
                "reason": f"more than {BURST} refusals within a minute: the rest of this "
                "minute's are not recorded",
            }
        params = request.path_params
        target = next(iter(params.values()), None) if params else None
        await services.audit.record(
            AuditEvent(
                event="admin.denied",
                outcome="denied",
                actor=actor,
                target=str(target)[:128] if target else None,
                client_id=client_id,
                details=details,
            ),
            request=request,
        )
    except Exception:  # the refusal stands whether or not it could be written
        log.warning("a refused admin request could not be audited", exc_info=True)
