"""The settings of real-name checks: which backend checks a person's identity when they raise
their level (docs/real-name.md)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings


class RealNameSettings(BaseSettings):
    real_name_backend: Literal["none", "dev", "http"] = Field(
        "dev",
        description="How a person's identity is checked when they raise their real-name level: "
        "`dev` (development: a fixture list and the GB 11643 check character, docs/real-name.md), "
        "`http` (a signed call to the city's real-name service) or `none` (levels are raised "
        "only by department logins; apps needing a higher level refuse).",
    )
    real_name_fixtures_file: str = Field(
        "",
        description='`dev` backend: a JSON file of `{"name", "national_id", "network_id"}` '
        "people who pass; unset: the built-in list in docs/real-name.md.",
    )
    real_name_http_url: str = Field(
        "", description="`http` backend: the URL of the city's real-name service."
    )
    real_name_http_secret: str = Field(
        "", description="`http` backend: the shared secret of the HMAC-SHA256 signature."
    )
