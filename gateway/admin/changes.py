"""One admin change = one transaction that also writes its audit entry: if the entry cannot be
written, the change does not happen. Shared by the REST API and the command line."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field, is_dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from gateway.identity.audit import diff
from gateway.identity.errors import AlreadyExists, InvalidInput
from gateway.server.responses import Clash, Invalid, Missing, Stale
from gateway.server.services import Services
from store import errors as store_errors
from store.records import AuditEvent

_HIDDEN = frozenset({"secret_digest", "password_hash", "last_attributes"})


@dataclass(frozen=True)
class Actor:
    """Who changes something: an account through the API (with the token's client and the
    request, for ip and request id), or the operator of the machine through the command line
    (``via`` "cli", recorded in the entry's details)."""

    id: str
    client_id: str | None = None
    request: Request | None = None
    via: str | None = None

    def stamped(self, details: dict[str, Any]) -> dict[str, Any]:
        return details if self.via is None else {**details, "via": self.via}


CLI = Actor("cli", via="cli")


def snapshot(record: Any) -> dict[str, Any] | None:
    """A record as the audit log keeps it: plain JSON values, never a secret."""
    if record is None:
        return None
    data = asdict(record) if is_dataclass(record) else dict(record)
    return {
        key: list(value) if isinstance(value, tuple) else value
        for key, value in data.items()
        if key not in _HIDDEN
    }


@dataclass
class Change:
    session: AsyncSession
    target: str | None
    before: Any = None
    after: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    def details(self) -> dict[str, Any]:
        changed = diff(snapshot(self.before), snapshot(self.after))
        details: dict[str, Any] = {
            "before": {name: values["before"] for name, values in changed.items()},
            "after": {name: values["after"] for name, values in changed.items()},
        }
        details.update(self.extra)
        return details


def translated(error: Exception) -> Exception:
    """Store and service errors as admin problems."""
    if isinstance(error, store_errors.StaleVersion):
        return Stale("The resource changed since it was read.")
    if isinstance(error, store_errors.NotFound):
        return Missing(str(error))
    if isinstance(error, store_errors.Conflict | store_errors.InUse | AlreadyExists):
        return Clash(str(error))
    if isinstance(error, InvalidInput):
        return Invalid.field(error.field.split("."), error.reason)
    return error


@asynccontextmanager
async def change(
    services: Services, actor: Actor, event: str, target: str | None
) -> AsyncIterator[Change]:
    """A transaction for one change; its audit entry is written in it at the end of the block."""
    try:
        async with services.database.transaction() as session:
            current = Change(session, target)
            yield current
            await services.audit.record(
                AuditEvent(
                    event=event,
                    actor=actor.id,
                    target=current.target,
                    client_id=actor.client_id,
                    details=actor.stamped(current.details()),
                ),
                session=session,
                request=actor.request,
            )
    except (store_errors.StoreError, AlreadyExists, InvalidInput) as error:
        raise translated(error) from error


async def record_after(
    services: Services, actor: Actor, event: str, target: str | None, **details: Any
) -> None:
    """Audit a change made outside the database (sessions, counters) or by a service that
    commits on its own (providers, keys), once it has happened."""
    await services.audit.record(
        AuditEvent(
            event=event,
            actor=actor.id,
            target=target,
            client_id=actor.client_id,
            details=actor.stamped(details),
        ),
        request=actor.request,
    )
