"""Where and on what a person signs in: the region of the address, and whether the device and
the province are new to the account. A sign-in from a device the account has not used AND a
province it has not signed in from is *unfamiliar*: its holder is told, and a city-wide setting
can make it ask for the second factor. The first sign-in of an account is never unfamiliar.

Devices are known by a digest of a random cookie the gateway set (never by fingerprinting the
browser); provinces by country and province. Both are kept durably, a bounded few an account."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from gateway.identity.regions import Region, RegionResolver
from store.clock import Clock
from store.sign_in_places import SignInPlaceStore


@dataclass(frozen=True)
class Arrival:
    """One sign-in's place, compared with what the account signed in from before."""

    region: Region
    first: bool  # nothing was known of the account: its first sign-in
    new_device: bool
    new_province: bool

    @property
    def unfamiliar(self) -> bool:
        return not self.first and self.new_device and self.new_province

    def details(self) -> dict[str, object]:
        """What the audit entry says of the place (never the device id)."""
        return {
            "region": self.region.as_dict(),
            "new_device": self.new_device,
            "new_province": self.new_province,
        }


def device_digest(device_id: str) -> str:
    return hashlib.sha256(device_id.encode()).hexdigest()


class SignInPlaces:
    def __init__(self, store: SignInPlaceStore, regions: RegionResolver, clock: Clock) -> None:
        self._store = store
        self.regions = regions
        self._clock = clock

    async def arrive(self, account_id: str, device_id: str, region: Region) -> Arrival:
        """Compare the sign-in with the account's known places, then remember it. An address
        of no known province (private, unknown) is never a new province."""
        digest = device_digest(device_id)
        province = region.province_key
        seen = {"device": digest, "province": province}
        known = await self._store.arrive(account_id, seen, self._clock.now())
        return Arrival(
            region=region,
            first=not known["device"] and not known["province"],
            new_device=digest not in known["device"],
            new_province=bool(province) and province not in known["province"],
        )
