"""The expiring key-value protocol: short-lived state (sessions, codes, counters, revocations).

Every operation touches one key, so every backend (one process, Redis, Redis Cluster) can make it
atomic; ``get_many`` is several such reads sent together. An expiry ledger (a sorted set of keys
by expiry, for counting what expired unused) is a key of its own, written beside the key it
lists in the same round trip but not atomically with it. TTLs are seconds as floats; backends
keep at least millisecond precision.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol


class ExpiringStoreError(Exception):
    """The expiring store could not be reached or refused an operation."""


@dataclass(frozen=True)
class Redemption:
    """What ``redeem`` found: ``redeemed`` (``value`` is the credential, now spent), ``reused``
    (``value`` is what its first redemption left, see ``settle``), ``foreign`` (another owner's:
    left as it was) or ``absent`` (never issued, or expired)."""

    outcome: Literal["redeemed", "reused", "foreign", "absent"]
    value: bytes | None = None
    ttl: float | None = None  # for ``redeemed`` and ``foreign``: the seconds it had left


# How a single-use credential is kept under one key (so a cluster can run each step atomically):
# ``owner NUL value`` while unspent; once spent, a marker of what it produced after one of these
# prefixes (the second when another redemption was seen). Owners never contain NUL.
SEPARATOR, SPENT, SPENT_AGAIN = b"\x00", b"\x00spent:", b"\x00spent!:"
# Redeemed, and neither settled nor redeemed again yet: the only state ``release`` undoes.
UNSETTLED = SPENT + b"{}"


@dataclass(frozen=True)
class Step:
    """One operation of ``many``: a method of the protocol that touches one key (``get``,
    ``put``, ``delete``, ``incr``, ``set_add``) and its arguments, as the method takes them."""

    method: Literal["get", "put", "delete", "incr", "set_add"]
    args: tuple[object, ...]


class ExpiringStore(Protocol):
    async def get(self, key: str) -> bytes | None:
        """The value, or None when absent or expired."""
        ...

    async def get_many(self, *keys: str) -> list[bytes | None]:
        """The values of several keys, in order, in one round trip where the backend can (each
        read is atomic on its own, not the set of them)."""
        ...

    async def put(
        self,
        key: str,
        value: bytes,
        ttl: float,
        ledger: str | None = None,
        ledger_ttl: float | None = None,
    ) -> None:
        """Store ``value`` for ``ttl`` seconds, replacing any earlier value; with ``ledger``,
        also enter ``key`` in that expiry ledger (see ``sweep_ledger``), expiring there after
        ``ledger_ttl`` seconds when given (a record kept past the credential it holds)."""
        ...

    async def put_many(self, *entries: tuple[str, bytes, float]) -> None:
        """``put`` each (key, value, ttl), in one round trip where the backend can (each write
        is atomic on its own, not the set of them)."""
        ...

    async def add(self, key: str, value: bytes, ttl: float) -> bool:
        """Store only if the key is absent; True when this call stored it."""
        ...

    async def add_and_get(
        self, key: str, value: bytes, ttl: float, *keys: str
    ) -> tuple[bool, list[bytes | None]]:
        """``add`` then ``get_many`` of ``keys``, in one round trip where the backend can (each
        step atomic on its own, not the two together)."""
        ...

    async def replace(self, key: str, value: bytes, ttl: float) -> bool:
        """Store only if the key is live; True when this call stored it (so a record deleted
        meanwhile, e.g. an ended session, is not brought back)."""
        ...

    async def take(self, key: str, ledger: str | None = None) -> bytes | None:
        """Read and delete in one atomic step: of concurrent takers, exactly one gets the value.
        With ``ledger``, a key taken before its expiry leaves that ledger."""
        ...

    async def delete(self, key: str) -> bool:
        """True when a live value was removed."""
        ...

    async def issue(
        self, key: str, owner: str, value: bytes, ttl: float, ledger: str | None = None
    ) -> None:
        """Keep a single-use credential that only ``owner`` may redeem (entered in ``ledger``)."""
        ...

    async def redeem(
        self, key: str, owner: str, spent_ttl: float, ledger: str | None = None
    ) -> Redemption:
        """Spend the credential atomically: of concurrent redemptions exactly one gets the value;
        the others (and any later one, for ``spent_ttl`` seconds) get ``reused``, and the
        credential is flagged so its ``settle`` learns of them. A credential redeemed before its
        expiry leaves ``ledger``."""
        ...

    async def settle(self, key: str, marker: bytes, spent_ttl: float) -> bool:
        """Record what the redeemed credential produced; True when it was redeemed again
        meanwhile (then what it produced must be revoked)."""
        ...

    async def release(
        self, key: str, owner: str, value: bytes, ttl: float, ledger: str | None = None
    ) -> bool:
        """Undo a redemption whose request failed before it produced anything: the credential
        is ``owner``'s again for ``ttl`` seconds (and back in ``ledger``). Only while it is
        neither settled nor redeemed again (atomically); True when it was put back."""
        ...

    async def leave_ledger(self, ledger: str, key: str) -> None:
        """Remove ``key`` from ``ledger``: a credential ended otherwise than by being taken
        (refused), which is not to be counted when it expires."""
        ...

    async def sweep_ledger(self, ledger: str, grace: float, limit: int) -> int:
        """Remove from ``ledger`` at most ``limit`` keys whose expiry passed more than ``grace``
        seconds ago, and return how many: keys that expired without being taken or redeemed.
        Atomic, so concurrent sweeps never count a key twice."""
        ...

    async def incr(self, key: str, ttl: float, amount: int = 1) -> int:
        """Add ``amount`` atomically and return the new value. The TTL starts with the first
        increment (a fixed window), later increments do not extend it."""
        ...

    async def incr_many(self, *counters: tuple[str, float, int]) -> list[int]:
        """``incr`` each (key, ttl, amount), in one round trip where the backend can (each
        counter is atomic on its own, not the set of them); the new values, in order."""
        ...

    async def many(self, *steps: Step) -> list[object]:
        """Run each step, in order, in one round trip where the backend can (each step is
        atomic on its own, not the set of them); each step's result, as its method returns it."""
        ...

    async def set_add(self, key: str, member: str, ttl: float) -> None:
        """Add ``member`` to the set at ``key`` and give the set ``ttl`` seconds to live."""
        ...

    async def set_remove(self, key: str, member: str) -> None: ...

    async def set_members(self, key: str) -> set[str]:
        """The members of a live set; empty when absent or expired."""
        ...

    async def ttl(self, key: str) -> float | None:
        """Seconds left, or None when absent or expired."""
        ...

    async def ping(self) -> None:
        """Raise ExpiringStoreError when the backend cannot serve requests."""
        ...

    async def close(self) -> None: ...


def check_ttl(ttl: float) -> None:
    if not ttl > 0:
        raise ValueError(f"ttl must be positive, got {ttl!r}")
