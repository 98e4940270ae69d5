"""Admin API for city-wide administrators: department login systems, signing keys, the audit
log (queried page by page, or exported as JSON lines)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from gateway.admin import platform
from gateway.admin.auth import READ, WRITE
from gateway.admin.etags import etag_of
from gateway.admin.http import Call, Reply, endpoint
from gateway.admin.models import (
    KeyList,
    ProviderCreate,
    ProviderList,
    ProviderOut,
    RotateIn,
    RotateOut,
    when,
)
from gateway.admin.models_audit import AuditOut, AuditPage, AuditQuery
from gateway.admin.models_ops import ProviderStateChange, ProviderTestOut
from store.records import AuditEvent

NDJSON = "application/x-ndjson"


def audit_out(event: AuditEvent) -> AuditOut:
    return AuditOut(
        id=event.id or 0,
        at=when(event.at),  # type: ignore[arg-type]
        event=event.event,
        outcome=event.outcome,
        actor=event.actor,
        target=event.target,
        client_id=event.client_id,
        ip=event.ip,
        request_id=event.request_id,
        check=event.check,
        details=event.details,
    )


def audit_filters(q: AuditQuery) -> dict[str, Any]:
    return {
        "event": q.event,
        "actor": q.actor,
        "target": q.target,
        "client_id": q.client_id,
        "outcome": q.outcome,
        "since": q.since.timestamp() if q.since else None,
        "until": q.until.timestamp() if q.until else None,
    }


@endpoint(
    "GET",
    "/providers",
    scope=READ,
    tag="providers",
    summary="List department login systems",
    out=ProviderList,
)
async def list_providers(call: Call) -> Reply:
    """In sign-in page order; never their settings (they hold secrets)."""
    found = await platform.list_providers(call.services, call.reach)
    items = [ProviderOut(**await platform.provider_out(call.services, d)) for d in found]
    return Reply(ProviderList(items=items))


@endpoint(
    "POST",
    "/providers",
    scope=WRITE,
    tag="providers",
    summary="Add a department login system",
    out=ProviderOut,
    status=201,
    body=ProviderCreate,
    etag=True,
)
async def add_provider(call: Call) -> Reply:
    """Its settings (secrets included) are stored encrypted and never shown again."""
    b: ProviderCreate = call.body
    department = await platform.add_provider(
        call.services, call.actor, call.reach, b.id, b.type, b.config
    )
    document = platform.provider_document(department)
    return Reply(ProviderOut(**document), status=201, etag=etag_of(None, document))


@endpoint(
    "GET",
    "/providers/{provider_id}",
    scope=READ,
    tag="providers",
    summary="Get a department login system",
    out=ProviderOut,
    etag=True,
)
async def get_provider(call: Call) -> Reply:
    department = await platform.get_provider(call.services, call.reach, call.params["provider_id"])
    document = await platform.provider_out(call.services, department)
    return Reply(ProviderOut(**document), etag=etag_of(None, document))


@endpoint(
    "PATCH",
    "/providers/{provider_id}",
    scope=WRITE,
    tag="providers",
    summary="Disable or enable a department login system",
    out=ProviderOut,
    body=ProviderStateChange,
    etag=True,
    if_match=True,
)
async def set_provider_disabled(call: Call) -> Reply:
    """Disabled, it is not offered on the sign-in page and its start, callback and password
    check refuse; its settings and the accounts' links stay, and enabling it brings it back."""
    provider_id = call.params["provider_id"]
    if call.pre.given:
        department = await platform.get_provider(call.services, call.reach, provider_id)
        call.pre.check(etag_of(None, await platform.provider_out(call.services, department)))
    department = await platform.set_provider_disabled(
        call.services, call.actor, call.reach, provider_id, call.body.disabled
    )
    document = await platform.provider_out(call.services, department)
    return Reply(ProviderOut(**document), etag=etag_of(None, document))


@endpoint(
    "POST",
    "/providers/{provider_id}/test",
    scope=READ,
    tag="providers",
    summary="Test a department login system",
    out=ProviderTestOut,
)
async def test_provider(call: Call) -> Reply:
    """Tries to reach its system as its kind can (an LDAP bind with the service account, an
    OIDC discovery fetch, a CAS or platform login page, a count of a user table), within
    10 seconds; a failure is answered 200 with ok false and the reason. Audited."""
    result = await platform.test_provider(
        call.services, call.actor, call.reach, call.params["provider_id"]
    )
    return Reply(ProviderTestOut(**result))


@endpoint(
    "DELETE",
    "/providers/{provider_id}",
    scope=WRITE,
    tag="providers",
    summary="Remove a department login system",
    status=204,
    if_match=True,
)
async def remove_provider(call: Call) -> Reply:
    """Accounts and their links stay."""
    if call.pre.given:
        department = await platform.get_provider(
            call.services, call.reach, call.params["provider_id"]
        )
        call.pre.check(etag_of(None, await platform.provider_out(call.services, department)))
    await platform.remove_provider(
        call.services, call.actor, call.reach, call.params["provider_id"]
    )
    return Reply(status=204)


@endpoint("GET", "/keys", scope=READ, tag="keys", summary="List signing keys", out=KeyList)
async def list_keys(call: Call) -> Reply:
    """Next (published, not signing yet), active, and retired (still published) keys."""
    call.reach.require_city_wide("signing keys")
    await call.services.keys.reload()
    items = platform.key_documents(call.services, call.reach)
    return Reply(KeyList(items=items))


@endpoint(
    "POST",
    "/keys/rotate",
    scope=WRITE,
    tag="keys",
    summary="Rotate a signing key",
    out=RotateOut,
    body=RotateIn,
)
async def rotate_key(call: Call) -> Reply:
    """The published next key starts signing, the active one retires (published until every
    token it signed has expired), a new next key is published. 409 when the next key is too
    new for relying parties to have seen it (unless `force`)."""
    b: RotateIn = call.body
    result = await platform.rotate_key(call.services, call.actor, call.reach, b.alg, b.force)
    return Reply(
        RotateOut(
            alg=result.alg,
            rotated=result.rotated,
            active_kid=result.active_kid,
            next_kid=result.next_kid,
        )
    )


@endpoint(
    "GET",
    "/audit",
    scope=READ,
    tag="audit",
    summary="Query the audit log",
    out=AuditPage,
    query=AuditQuery,
)
async def query_audit(call: Call) -> Reply:
    """Oldest first; pass `next_cursor` as `after` for the next page."""
    q: AuditQuery = call.query
    events, total = await platform.query_audit(
        call.services, call.reach, q.after, q.limit, **audit_filters(q)
    )
    cursor = str(events[-1].id) if len(events) == q.limit and events[-1].id else None
    return Reply(AuditPage(items=[audit_out(e) for e in events], total=total, next_cursor=cursor))


@endpoint(
    "GET",
    "/audit/export",
    scope=READ,
    tag="audit",
    summary="Export the audit log as JSON lines",
    out=AuditOut,
    query=AuditQuery,
    media_type=NDJSON,
)
async def export_audit(call: Call) -> Reply:
    """One event (as in `/audit`) a line, every event matching the filters after `after`."""
    call.reach.require_city_wide("the audit log")
    q: AuditQuery = call.query
    events = platform.export_audit(call.services, call.reach, q.after, **audit_filters(q))

    async def lines() -> AsyncIterator[bytes]:
        async for event in events:
            yield audit_out(event).model_dump_json().encode() + b"\n"

    return Reply(stream=lines(), media_type=NDJSON)
