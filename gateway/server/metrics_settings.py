"""The settings of operation: who may scrape ``/metrics``, and how many requests a client may
make of the token, introspection and UserInfo endpoints."""

from __future__ import annotations

import ipaddress
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode


class MetricsSettings(BaseSettings):
    metrics_token: SecretStr | None = Field(
        None,
        description="Bearer secret a scrape of `/metrics` must send (`Authorization: Bearer …`). "
        "With neither this nor `METRICS_ALLOWED_ADDRESSES` set, `/metrics` answers 404.",
    )
    metrics_allowed_addresses: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated addresses or networks (`10.0.0.0/8,127.0.0.1`) that may "
        "scrape `/metrics`; others get 403. With `METRICS_TOKEN` too, a scrape needs both.",
    )
    client_requests_per_minute: int = Field(
        0,
        ge=0,
        description="Requests a client may make each minute at each of the token, introspection "
        "and UserInfo endpoints, unless the client has a limit of its own "
        "(`requests_per_minute`); 0: no limit. Over it: 429 with `Retry-After`.",
    )
    expiry_sweep_seconds: float = Field(
        30.0,
        gt=0,
        description="How often the single-use codes and tickets that expired unused (authorization "
        "and device codes, CAS and scan-to-sign-in tickets, request_uris) are counted into "
        "`yihaotong_expired_unused_total` (one process at a time sweeps).",
    )

    @field_validator("metrics_allowed_addresses", mode="before")
    @classmethod
    def _split_addresses(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("metrics_allowed_addresses")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for network in value:
            ipaddress.ip_network(network, strict=False)  # ValueError names the bad entry
        return value
