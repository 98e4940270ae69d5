"""The settings of where people sign in from: the IP region database, and what a sign-in from a
new device in a new province asks for."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings


class PlaceSettings(BaseSettings):
    ip_region_db: Path | None = Field(
        None,
        description="An ip2region database (`.xdb`, IPv4 or IPv6) that names the province and "
        "city of each sign-in's address; unset: the one the `regions` extra installs (the "
        "`XdbSearchIP` package, ip2region's data of 2022), if any. Loaded into memory once "
        "per worker. See "
        "[operations.md](operations.md#where-people-sign-in-from).",
    )
    new_place_second_factor: bool = Field(
        False,
        description="A sign-in from a device the account has not used and a province it has "
        "not signed in from asks for the second factor (authenticator app or passkey), whatever "
        "the app requires. An account without a second factor is only sent the notice. A "
        "city-wide setting.",
    )
