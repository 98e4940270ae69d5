"""Where an address is: an offline ip2region database (xdb) read with ip2region's own reader.

The whole file is loaded once per process (about 11 MB), so a lookup is a few microseconds of
memory reads and never touches the disk on the event loop. Private and loopback addresses are
named as such without a lookup; an address the database does not know is "unknown"."""

from __future__ import annotations

import functools
import importlib.metadata
import ipaddress
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import ip2region.searcher as xdb
import ip2region.util as xdb_util

log = logging.getLogger("yihaotong.regions")

Kind = Literal["public", "private", "loopback", "unknown"]
_EMPTY = {"", "0"}
_PRIVATE_NAMES = {"内网IP", "Reserved"}  # xdb 2.0 data, and 3.0 data's reserved ranges


@dataclass(frozen=True)
class Region:
    kind: Kind = "unknown"
    country: str = ""
    province: str = ""
    city: str = ""

    @property
    def name(self) -> str:
        """Province and city (the country too when abroad): ``广东省 深圳市``, ``美国``."""
        # A municipality is its own province (上海, 上海市): named once.
        same = self.city.startswith(self.province)
        parts = [self.city] if same and self.province else [self.province, self.city]
        if self.country not in {"", "中国"}:
            parts.insert(0, self.country)
        return " ".join(dict.fromkeys(p for p in parts if p))

    @property
    def province_key(self) -> str:
        """What "a province seen before" compares: the country and the province; empty when
        the address says nothing of either (private, unknown)."""
        if self.kind != "public" or not (self.country or self.province):
            return ""
        return f"{self.country}|{self.province}"

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in asdict(self).items() if v}

    @classmethod
    def from_dict(cls, value: object) -> Region:
        if not isinstance(value, dict):
            return cls()
        kind = value.get("kind", "unknown")
        if kind not in {"public", "private", "loopback"}:
            kind = "unknown"
        return cls(kind, *(str(value.get(k, "")) for k in ("country", "province", "city")))


def bundled_database() -> Path | None:
    """The xdb of the ``XdbSearchIP`` package (the ``regions`` extra), if installed: found by
    its files' list, never imported."""
    try:
        where = importlib.metadata.distribution("XdbSearchIP")
        path = where.locate_file("XdbSearchIP/data/ip2region.xdb")
    except importlib.metadata.PackageNotFoundError:
        return None
    return Path(str(path)) if Path(str(path)).is_file() else None


def _fields(text: str, layout: int) -> tuple[str, str, str]:
    """(country, province, city) of a region string. Layout 2 (xdb 2.0 data): country|area|
    province|city|isp; layout 3 (xdb 3.0 data): country|province|city|isp[|iso code]."""
    parts = text.split("|")
    picked = parts[0:1] + (parts[2:4] if layout == 2 else parts[1:3])
    country, province, city = ("" if p in _EMPTY else p for p in [*picked, "", "", ""][:3])
    return country, province, city


class RegionResolver:
    """Resolves addresses with one in-memory searcher (safe to share, per ip2region's docs)."""

    def __init__(
        self, searcher: xdb.Searcher | None = None, layout: int = 3, ipv6: bool = False
    ) -> None:
        self._searcher = searcher
        self._layout = layout
        self._ipv6 = ipv6

    @property
    def enabled(self) -> bool:
        return self._searcher is not None

    @classmethod
    @functools.cache
    def open(cls, path: Path | None) -> RegionResolver:
        """Load the database, once a process and path (blocking: call it at start, off the
        event loop). A missing or unreadable file leaves regions unknown, said in the log."""
        path = path or bundled_database()
        if path is None:
            log.warning("no IP region database: sign-in regions are unknown")
            return cls()
        try:
            # Through our own handle: the reader's *_from_file helpers leave theirs open on error.
            with path.open("rb") as handle:
                xdb_util.verify(handle)
                header = xdb_util.load_header(handle)
                version = xdb_util.version_from_header(header)
                content = xdb_util.load_content(handle)
            if version is None:
                raise ValueError("unknown IP version")
            searcher = xdb.new_with_buffer(version, content)
        except Exception as error:  # the reader raises plain Exception
            log.warning("IP region database unusable: %s", error.__class__.__name__)
            return cls()
        return cls(searcher, 2 if header.version < 3 else 3, version == xdb_util.IPv6)

    def resolve(self, ip: str) -> Region:
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return Region()
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if address.is_loopback:
            return Region("loopback")
        if address.is_private or address.is_link_local:
            return Region("private")
        if self._searcher is None or (address.version == 6) != self._ipv6:
            return Region()
        try:
            text = self._searcher.search(str(address))
        except Exception:  # a damaged file: no region
            return Region()
        country, province, city = _fields(text, self._layout)
        if city in _PRIVATE_NAMES or country in _PRIVATE_NAMES:
            return Region("private")
        if not (country or province or city):
            return Region()
        return Region("public", country, province, city)
