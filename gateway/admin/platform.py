"""What only city-wide administrators manage: department login systems, signing keys and the
audit log. Providers and keys are changed by their own services, which commit on their own; the
audit entry follows in its own transaction, and a provider added whose entry cannot be written
is removed again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from gateway.admin.changes import Actor, record_after
from gateway.admin.models import KeyOut, when
from gateway.admin.reach import Reach
from gateway.identity.errors import AlreadyExists, InvalidInput
from gateway.identity.login_systems import LoginSystem, Unavailable
from gateway.server.responses import Clash, Invalid, Missing
from gateway.server.services import Services
from keys.ring import KeyRingError, KeyRotationTooSoon, RotationResult
from providers.base import ProviderUnavailable
from store import admin as admin_store
from store import audit as audit_store
from store.records import AuditEvent

PROVIDER_TEST_SECONDS = 10
CHECKS = {
    "ldap": "LDAP bind with the service account and a search",
    "oidc": "OpenID Connect discovery fetch",
    "cas": "CAS login page",
    "province": "provincial platform login page",
    "legacy_sql": "count of the user table",
}


def provider_document(
    login_system: LoginSystem | Unavailable, disabled: bool = False
) -> dict[str, Any]:
    """What is shown of a login system (never a setting); a broken one says why it is."""
    if isinstance(login_system, Unavailable):
        return {
            "id": login_system.id,
            "type": login_system.type,
            "name": login_system.name,
            "position": login_system.position,
            "assurance": None,
            "trusted_for": [],
            "verified": [],
            "password": None,
            "available": False,
            "error": login_system.error,
            "disabled": disabled,
        }
    config = login_system.config
    return {
        "id": login_system.id,
        "type": config.type,
        "name": config.name,
        "position": config.position,
        "assurance": config.assurance,
        "trusted_for": sorted(config.trusted_for),
        "verified": sorted(config.verified),
        "password": login_system.takes_passwords,
        "available": True,
        "error": None,
        "disabled": disabled,
    }


async def provider_out(services: Services, login_system: LoginSystem | Unavailable) -> dict:
    """``provider_document`` with whether it is disabled."""
    return provider_document(
        login_system, login_system.id in await services.login_systems.disabled()
    )


async def test_provider(services: Services, actor: Actor, reach: Reach, provider_id: str) -> dict:
    """Try to reach the department's system through its provider's own check (an LDAP bind
    with the service account, an OIDC discovery fetch, a CAS or platform login page), for at
    most ``PROVIDER_TEST_SECONDS``: ``ok`` with what was found, or the reason it failed."""
    found = await get_provider(services, reach, provider_id)
    if isinstance(found, Unavailable):
        checked = CHECKS.get(found.type, f"{found.type} check")
        result = {"ok": False, "reason": f"its settings cannot be used: {found.error}"}
    else:
        checked = CHECKS.get(found.config.type, f"{found.config.type} check")
        result = await _run_check(found)
    await record_after(
        services, actor, "admin.provider.tested", provider_id, ok=result["ok"], checked=checked
    )
    return {**result, "checked": checked}


async def _run_check(found: LoginSystem) -> dict:
    try:
        async with asyncio.timeout(PROVIDER_TEST_SECONDS):
            said = await found.provider.check()
    except ProviderUnavailable as error:
        return {"ok": False, "reason": error.reason}
    except TimeoutError:
        return {"ok": False, "reason": f"no answer within {PROVIDER_TEST_SECONDS} seconds"}
    except Exception as error:  # a provider's own failure: its kind, never its trace
        return {"ok": False, "reason": f"the check failed ({type(error).__name__})"}
    return {"ok": True, "reason": None, "found": said}


async def set_provider_disabled(
    services: Services, actor: Actor, reach: Reach, provider_id: str, disabled: bool
) -> LoginSystem | Unavailable:
    """A disabled login system is not offered on the sign-in page and its start, callback and
    password check refuse; its settings and the accounts' links stay."""
    found = await get_provider(services, reach, provider_id)
    was = provider_id in await services.login_systems.disabled()
    if was == disabled:
        return found
    if not await services.login_systems.set_disabled(provider_id, disabled):
        raise Missing("No such provider.")
    event = "admin.provider.disabled" if disabled else "admin.provider.enabled"
    try:
        await record_after(services, actor, event, provider_id)
    except Exception:
        await services.login_systems.set_disabled(provider_id, was)  # nothing unrecorded
        raise
    return found


async def list_providers(services: Services, reach: Reach) -> list[LoginSystem | Unavailable]:
    reach.require_city_wide("department login systems")
    return await services.login_systems.listing()


async def get_provider(
    services: Services, reach: Reach, provider_id: str
) -> LoginSystem | Unavailable:
    reach.require_city_wide("department login systems")
    login_system = await services.login_systems.stored(provider_id)
    if login_system is None:
        raise Missing("No such provider.")
    return login_system


async def add_provider(
    services: Services, actor: Actor, reach: Reach, provider_id: str, kind: str, config: dict
) -> LoginSystem | Unavailable:
    reach.require_city_wide("department login systems")
    try:
        await services.login_systems.add(provider_id, kind, config)
    except InvalidInput as error:
        where = error.field.split(".")
        raise Invalid.field(["body", *where], error.reason) from error
    except AlreadyExists as error:
        raise Clash(str(error)) from error
    try:
        # The settings hold secrets under many names: only which settings were given is kept.
        await record_after(
            services, actor, "admin.provider.added", provider_id, type=kind, settings=sorted(config)
        )
    except Exception:
        await services.login_systems.remove(provider_id)  # nothing happens unrecorded
        raise
    login_system = await services.login_systems.get(provider_id)
    return login_system or await get_provider(services, reach, provider_id)


async def remove_provider(services: Services, actor: Actor, reach: Reach, provider_id: str) -> None:
    reach.require_city_wide("department login systems")
    sealed = {row[0]: row for row in await services.logins.all()}.get(provider_id)
    was_off = provider_id in await services.logins.disabled()
    if sealed is None or not await services.login_systems.remove(provider_id):
        raise Missing("No such provider.")
    try:
        await record_after(services, actor, "admin.provider.removed", provider_id, type=sealed[1])
    except Exception:
        # Put it back as it was (still encrypted), so nothing happens unrecorded.
        await services.logins.add(sealed[0], sealed[1], sealed[2], services.clock.now())
        await services.logins.set_disabled(provider_id, was_off)
        raise


def key_documents(services: Services, reach: Reach) -> list[KeyOut]:
    """The signing keys as shown: next (published, not signing yet), active, retired."""
    reach.require_city_wide("signing keys")
    published = {record.kid for record in services.keys.published()}
    return [
        KeyOut(
            kid=r.kid,
            alg=r.alg,
            state=r.state,
            published=r.kid in published,
            created_at=when(r.created_at),  # type: ignore[arg-type]
            activated_at=when(r.activated_at),
            retired_at=when(r.retired_at),
            publish_until=when(r.publish_until),
        )
        for r in services.keys.records()
    ]


async def rotate_key(
    services: Services, actor: Actor, reach: Reach, alg: str | None, force: bool
) -> RotationResult:
    reach.require_city_wide("signing keys")
    try:
        result = await services.keys.rotate(alg, force=force)
    except KeyRotationTooSoon as error:
        raise Clash(str(error)) from error
    except KeyRingError as error:
        raise Invalid.field(["body", "alg"], str(error)) from error
    await record_after(
        services,
        actor,
        "admin.key.rotated",
        result.active_kid,
        alg=result.alg,
        rotated=result.rotated,
        forced=force,
        next_kid=result.next_kid,
    )
    return result


async def query_audit(
    services: Services,
    reach: Reach,
    after: int,
    limit: int,
    count_limit: int | None = None,
    **filters: Any,
) -> tuple[list[AuditEvent], int]:
    reach.require_city_wide("the audit log")
    await services.audit.flush()  # what was queued is part of the answer
    async with services.database.sessions() as session:
        events = await audit_store.query(session, after_id=after, limit=limit, **filters)
        total = await admin_store.count_audit(session, count_limit, **filters)
    return events, total


async def export_audit(
    services: Services, reach: Reach, after: int, **filters: Any
) -> AsyncIterator[AuditEvent]:
    """Every matching event, read in batches (the export streams)."""
    reach.require_city_wide("the audit log")
    await services.audit.flush()
    while True:
        async with services.database.sessions() as session:
            batch = await audit_store.query(session, after_id=after, limit=500, **filters)
        for event in batch:
            yield event
        if len(batch) < 500:
            return
        after = batch[-1].id or after
