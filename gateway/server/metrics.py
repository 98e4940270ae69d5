"""``/metrics``: the Prometheus exposition, behind a bearer secret and/or an address list.

With neither guard configured the endpoint answers 404, as if it did not exist: it is never
open by accident. With both, a scrape must pass both."""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import os
from collections.abc import Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

from gateway.server.services import Services

METRICS_PATH = "/metrics"
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"


class _ScrapeTime(Collector):
    """What is read when scraped, from the process that answers: signing key ages and the
    audit entries it has waiting."""

    def __init__(self, services: Services) -> None:
        self._services = services

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = self._services.clock.now()
        ages = GaugeMetricFamily(
            "yihaotong_signing_key_age_seconds",
            "Age of each published signing key, by kid, algorithm and state.",
            labels=["kid", "alg", "state"],
        )
        for key in self._services.keys.published():
            ages.add_metric([key.kid, key.alg, key.state], now - key.created_at)
        yield ages
        backlog = self._services.audit.backlog()
        queued = GaugeMetricFamily(
            "yihaotong_audit_queue_entries",
            "Audit entries queued for the next batch, and left in the local spool for a replay.",
            labels=["where"],
        )
        queued.add_metric(["queue"], backlog["queued"])
        queued.add_metric(["spool"], backlog["entries"])
        yield queued
        yield GaugeMetricFamily(
            "yihaotong_audit_spool_oldest_age_seconds",
            "Age of the oldest audit entry waiting in the local spool (0: none).",
            value=backlog["oldest_age_s"] or 0.0,
        )


def _exposition(services: Services) -> bytes:
    if os.environ.get(MULTIPROCESS_DIR):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        shared = generate_latest(registry)
    else:
        shared = generate_latest(REGISTRY)
    own = CollectorRegistry(auto_describe=False)
    own.register(_ScrapeTime(services))
    return shared + generate_latest(own)


def _address_allowed(request: Request, allowed: list[str]) -> bool:
    if request.client is None:
        return False
    try:
        address = ipaddress.ip_address(request.client.host)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(network, strict=False) for network in allowed)


def _refused(request: Request, services: Services) -> Response | None:
    settings = services.settings
    token, allowed = settings.metrics_token, settings.metrics_allowed_addresses
    if not token and not allowed:
        return Response(status_code=404)
    if allowed and not _address_allowed(request, allowed):
        return Response(status_code=403)
    if token:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        expected = token.get_secret_value().encode()
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected):
            return Response(status_code=401, headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    return None


async def metrics_endpoint(request: Request) -> Response:
    services: Services = request.app.state.services
    refused = _refused(request, services)
    if refused is not None:
        return refused
    # Reading every worker's files is disk work: off the event loop.
    body = await asyncio.to_thread(_exposition, services)
    return Response(body, media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})
