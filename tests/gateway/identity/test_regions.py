"""The IP region resolver against the real ip2region database the ``regions`` extra installs,
and the durable, bounded memory of the places each account signed in from."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.identity.places import SignInPlaces
from gateway.identity.regions import Region, RegionResolver, bundled_database
from store.clock import FakeClock
from store.sign_in_places import KEEP, SignInPlaceStore


@pytest.fixture(scope="module")
def regions() -> RegionResolver:
    resolver = RegionResolver.open(None)
    assert resolver.enabled, "the regions extra's database is installed for the tests"
    return resolver


@pytest.mark.parametrize(
    ("address", "province", "city", "name"),
    [
        ("113.118.113.77", "广东省", "深圳市", "广东省 深圳市"),  # ip2region's README example
        ("114.114.114.114", "江苏省", "南京市", "江苏省 南京市"),
        ("202.96.209.133", "上海", "上海市", "上海市"),  # a municipality is named once
        ("::ffff:61.135.169.121", "北京", "北京市", "北京市"),  # IPv4 inside IPv6
    ],
)
def test_public_addresses_resolve_to_their_province(
    regions: RegionResolver, address: str, province: str, city: str, name: str
) -> None:
    region = regions.resolve(address)
    assert region == Region("public", "中国", province, city)
    assert region.name == name and region.province_key == f"中国|{province}"


def test_abroad_names_the_country(regions: RegionResolver) -> None:
    region = regions.resolve("8.8.8.8")
    assert region.kind == "public" and region.country == "美国" and region.name.startswith("美国")


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("10.1.2.3", "private"),
        ("192.168.1.20", "private"),
        ("fd00::1", "private"),
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("2400:da00::6666", "unknown"),  # an IPv6 address and an IPv4 database
        ("not an address", "unknown"),
    ],
)
def test_other_addresses_say_what_they_are(
    regions: RegionResolver, address: str, kind: str
) -> None:
    region = regions.resolve(address)
    assert region == Region(kind) and region.province_key == ""  # type: ignore[arg-type]


def test_a_region_survives_the_session_record() -> None:
    region = Region("public", "中国", "广东省", "深圳市")
    assert Region.from_dict(region.as_dict()) == region
    assert Region.from_dict({"kind": "made up"}) == Region() and Region.from_dict(None) == Region()


def test_a_missing_or_broken_database_leaves_regions_unknown(tmp_path: Path) -> None:
    broken = tmp_path / "broken.xdb"
    broken.write_bytes(b"not an xdb file" * 100)
    for path in (tmp_path / "missing.xdb", broken):
        resolver = RegionResolver.open(path)
        assert not resolver.enabled
        assert resolver.resolve("113.118.113.77") == Region()
        assert resolver.resolve("127.0.0.1") == Region("loopback")
    assert bundled_database() is not None


async def test_first_sign_in_then_new_places_and_the_bound(database, regions) -> None:
    clock = FakeClock()
    places = SignInPlaces(SignInPlaceStore(database), regions, clock)
    shenzhen, beijing = regions.resolve("113.118.113.77"), regions.resolve("61.135.169.121")
    first = await places.arrive("a1", "device-one-000000", shenzhen)
    assert first.first and not first.unfamiliar
    clock.advance(1)
    same_device = await places.arrive("a1", "device-one-000000", beijing)
    assert not same_device.new_device and same_device.new_province and not same_device.unfamiliar
    clock.advance(1)
    known_province = await places.arrive("a1", "device-two-000000", shenzhen)
    assert known_province.new_device and not known_province.unfamiliar
    clock.advance(1)
    nanjing = regions.resolve("114.114.114.114")
    new_both = await places.arrive("a1", "device-three-0000", nanjing)
    assert new_both.unfamiliar and new_both.details()["region"]["province"] == "江苏省"
    lan = await places.arrive("a1", "device-four-00000", regions.resolve("10.0.0.1"))
    assert lan.new_device and not lan.new_province and not lan.unfamiliar
    assert not (await places.arrive("a2", "device-one-000000", beijing)).unfamiliar, "per account"
    for n in range(KEEP["device"] + 5):
        clock.advance(1)
        await places.arrive("a1", f"many-devices-{n:05d}", shenzhen)
    known = await SignInPlaceStore(database).known("a1")
    assert len(known["device"]) == KEEP["device"] and len(known["province"]) == 3
