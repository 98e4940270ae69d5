"""The settings of the mobile clients and input-constrained devices: which apps may confirm a
scan-to-sign-in and count as app installations, and the device authorization grant's timing."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode


class MobileSettings(BaseSettings):
    mobile_app_clients: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated client ids of the city's own apps (the 一号通 app, the "
        "mobile office client): only they may confirm a scan-to-sign-in, and their refresh "
        "tokens are listed as app installations. A city-wide setting: no app owner can add "
        "their app here.",
    )
    device_code_ttl: int = Field(
        600,
        ge=60,
        le=1800,
        description="Lifetime of a device code and its user code (RFC 8628 §3.2 `expires_in`), s.",
    )
    device_poll_interval: int = Field(
        5,
        ge=1,
        le=60,
        description="Seconds a device waits between polls of the token endpoint (RFC 8628 "
        "§3.2 `interval`); polling faster gets `slow_down`.",
    )

    @field_validator("mobile_app_clients", mode="before")
    @classmethod
    def _split_clients(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value
