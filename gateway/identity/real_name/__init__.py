"""Checking a person's identity with the city's real-name service: one small interface
(``IdentityChecker``), one module per backend.

Methods and the level each proves (as Guangdong grades real-name levels): ``id_pair``, the
name and ID number checked against the population registry (two-element, L2); ``network_id``,
the national 网号/网证 (L3); ``face``, face plus name and ID number (L3). ``dev`` checks a fixture
list (development only); ``http`` posts a signed request to the city's service (docs/real-name.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

METHOD_LEVELS = {"id_pair": "L2", "network_id": "L3", "face": "L3"}


class CheckUnavailable(Exception):
    """The service gave no verdict; ``reason`` is safe to audit (no personal data)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class CheckRequest:
    method: str  # a key of METHOD_LEVELS
    name: str
    national_id: str  # 18 characters, the check digit already right
    evidence: str = ""  # the 网号/网证 credential, or the face service's result token
    reference: str = ""  # our id of this check, kept with the evidence


@dataclass(frozen=True)
class CheckResult:
    match: bool
    reference: str = ""  # the service's id of the check, kept with the evidence


class IdentityChecker(Protocol):
    name: str
    methods: frozenset[str]

    async def check(self, request: CheckRequest) -> CheckResult:
        """The verdict, or raise ``CheckUnavailable``."""
        ...


@dataclass(frozen=True)
class RealNameConfig:
    """What a backend needs, read from the settings by ``gateway.server.services``."""

    backend: str = "dev"
    fixtures_file: str = ""
    http_url: str = ""
    http_secret: str = ""
    timeout: float = 5.0


def open_checker(config: RealNameConfig, now: object) -> IdentityChecker | None:
    """The configured backend; None when real-name checks are off."""
    if config.backend == "none":
        return None
    if config.backend == "dev":
        from gateway.identity.real_name.dev import DevChecker

        return DevChecker(config.fixtures_file)
    if config.backend == "http":
        from gateway.identity.real_name.webhook import WebhookChecker

        return WebhookChecker(config, now)  # type: ignore[arg-type]
    raise ValueError(f"unknown real-name backend {config.backend!r}")
