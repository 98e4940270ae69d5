"""The app installations of a person (the city's own apps, ``MOBILE_APP_CLIENTS``): listed
on the my-sessions page and in the admin API, and ended from either, which revokes the
installation's refresh tokens and the access tokens issued with them (audited)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from gateway.identity.web import RequestFacts
from gateway.oauth.revocations import revoke_family
from gateway.server.services import Services
from store.app_installations import AppInstallation
from store.records import AuditEvent

DEVICES_PATH = "/account/devices"


async def installations(services: Services, account_id: str) -> list[AppInstallation]:
    return await services.app_installations.of_account(
        account_id, services.settings.mobile_app_clients, services.clock.now()
    )


async def end_installation(
    services: Services,
    account_id: str,
    device_id: str,
    actor: str,
    request: RequestFacts | None = None,
) -> bool:
    """End one installation of ``account_id`` by its public id; False when there is none."""
    found = next(
        (i for i in await installations(services, account_id) if i.device_id == device_id), None
    )
    if found is None:
        return False
    await revoke_family(services, found.family_id, "app installation ended")
    await services.app_installations.forget(found.family_id)
    await services.audit.record(
        AuditEvent(
            "app.installation_ended",
            actor=actor,
            target=account_id,
            client_id=found.client_id,
            details={"device": found.device_id, "device_name": found.device_name},
        ),
        request=request,
    )
    return True


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")


def described(found: AppInstallation, names: dict[str, str]) -> dict[str, Any]:
    """An installation as the my-sessions page shows it."""
    return {
        "device_id": found.device_id,
        "name": found.device_name,
        "app": names.get(found.client_id, found.client_id),
        "first_used": _when(found.first_used),
        "last_used": _when(found.last_used),
        "jkt": found.dpop_jkt,
    }
