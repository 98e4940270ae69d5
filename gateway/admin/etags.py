"""Entity tags for admin resources, and ``If-Match`` (RFC 9110 §13.1.1, strong comparison).

A versioned row's tag is its version; an account's or client's is its ``updated_at`` (in
microseconds); anything else's is a digest of its representation. The tag is compared inside
the changing transaction, and the change itself is conditional on what was read, so of two
edits made with one tag exactly one succeeds."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, is_dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.server.responses import Stale, Unversioned

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def etag_of(record: Any, representation: Any = None) -> str:
    version = getattr(record, "version", None)
    if isinstance(version, int):
        return f'"v{version}"'
    stamp = getattr(record, "updated_at", None)
    if isinstance(stamp, float):
        # The microsecond the column keeps: rounded as it binds the value, in integers after,
        # so the tag of a record just written equals the tag of the row read back.
        moment = datetime.fromtimestamp(stamp, UTC)
        return f'"t{(moment - _EPOCH) // _MICROSECOND}"'
    if representation is None and is_dataclass(record) and not isinstance(record, type):
        representation = asdict(record)
    data = json.dumps(representation, sort_keys=True, default=str, ensure_ascii=False)
    return '"h' + hashlib.sha256(data.encode()).hexdigest()[:24] + '"'


@dataclass(frozen=True)
class Precondition:
    """What ``If-Match`` asked for: nothing, any current representation (``*``), or tags.
    ``required``: asking for nothing is refused (RFC 6585 §3), checked where the tag is."""

    header: str | None = None
    required: bool = False

    @property
    def given(self) -> bool:
        return self.header is not None

    def check(self, current: str) -> None:
        """Raise Stale unless the current tag satisfies the header (Unversioned: none given
        where one is required)."""
        if self.header is None and self.required:
            raise Unversioned("Send the version you read (the ETag) to change this.")
        if self.header is None or self.header.strip() == "*":
            return
        tags = [tag.strip() for tag in self.header.split(",")]
        if current not in tags:  # weak tags (W/"...") never match strongly
            raise Stale("The resource changed since it was read (If-Match does not match).")


NONE = Precondition()
