"""What a started gateway holds open, from the lifespan's start to its end: the services, the
state the endpoints share, the key ring's refresher, and traces when they are on."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from starlette.applications import Starlette

from gateway.cas import routes as cas
from gateway.endpoints import authorize, discovery
from gateway.identity import expiry_sweep
from gateway.mobile.tickets import ScanTickets
from gateway.mobile.waiting import ScanWaiters
from gateway.oauth.backchannel import BackchannelNotifier
from gateway.oauth.server import AuthorizationServer
from gateway.pages.sms_delivery import SmsDeliveries
from gateway.saml import routes as saml
from gateway.server.services import Services, open_services, shared_channel
from gateway.server.settings import Settings
from store import kv_keys
from store.clock import Clock

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter

    from gateway.server.tracing import Tracing

log = logging.getLogger("yihaotong")


async def keep_key_ring_fresh(services: Services) -> None:
    """Pick up rotations made by other instances, and rotate when a key's period is over."""
    while True:
        await asyncio.sleep(services.settings.key_ring_reload_seconds)
        try:
            await services.keys.reload()
            for result in await services.keys.rotate_if_due():
                if result.rotated:
                    log.info(
                        "signing key rotated",
                        extra={"fields": {"alg": result.alg, "kid": result.active_kid}},
                    )
        except Exception:
            log.exception("key ring refresh failed; will retry")


@contextlib.asynccontextmanager
async def serving(
    app: Starlette,
    settings: Settings,
    clock: Clock | None,
    freeze_after_start: bool,
    tracing: Tracing | None = None,
) -> AsyncIterator[None]:
    """What a started gateway holds open, closed at shutdown."""
    services = await open_services(settings, clock)
    if tracing is not None:
        tracing.watch(services.database)
    app.state.services = services
    app.state.oauth = AuthorizationServer(services)
    app.state.metadata_document = discovery.PublicDocument(
        discovery.metadata_bytes(settings), discovery.METADATA_MAX_AGE
    )
    app.state.token_url = settings.issuer + discovery.TOKEN_PATH
    app.state.authorize_url = settings.issuer + authorize.AUTHORIZE_PATH
    app.state.backchannel = BackchannelNotifier(services)
    app.state.sms_deliveries = SmsDeliveries()
    app.state.scan_tickets = ScanTickets(services.expiring, services.clock)
    app.state.scan_waiters = ScanWaiters(
        shared_channel(settings, services.expiring, kv_keys.scan_moved_channel())
    )
    app.state.scan_waiters.start()
    app.state.cas_apps = cas.CasApps(services)
    app.state.saml_apps = saml.SamlApps(services)
    app.state.logout_channels = cas.LOGOUT_CHANNELS | saml.LOGOUT_CHANNELS
    services.audit.start()  # replays what a process before this one left in the spool
    refresher = asyncio.create_task(keep_key_ring_fresh(services))
    sweeper = asyncio.create_task(
        expiry_sweep.keep_sweeping(services.expiring, settings.expiry_sweep_seconds)
    )
    if freeze_after_start:
        # What start-up built lives as long as the process: out of the cyclic collector's
        # full passes, which would otherwise walk all of it and stall every request in
        # flight. Start-up's own garbage goes first.
        gc.collect()
        gc.freeze()
    try:
        yield
    finally:
        for task in (refresher, sweeper):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await app.state.sms_deliveries.drain()
        await app.state.backchannel.close()
        await app.state.scan_waiters.close()
        await app.state.cas_apps.close()
        await services.close()


def tracing_for(settings: Settings, exporter: SpanExporter | None) -> Tracing | None:
    """Traces as configured, or to ``exporter``; None when off (OpenTelemetry is not imported)."""
    if exporter is None and not settings.traces_wanted:
        return None
    try:
        from gateway.server.tracing import Tracing
    except ImportError as error:
        raise RuntimeError(
            "YIHAOTONG_OTEL_ENABLED needs the otel extra: pip install 'yihaotong[otel]'"
        ) from error
    return Tracing(settings, exporter)
