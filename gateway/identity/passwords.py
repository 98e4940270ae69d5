"""argon2id password hashing with parameters from settings; hashing runs on worker threads
(argon2 releases the GIL) so a login never stalls the event loop."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# Verified against when an account has no hash (or does not exist), so that the answer takes as
# long as a real check and does not reveal which usernames exist.
_DUMMY_PASSWORD = "yihaotong-timing-equaliser"  # noqa: S105 - not a credential

T = TypeVar("T")
_hashing: ThreadPoolExecutor | None = None


def _hash_on_worker(work: Callable[..., T], *args: object) -> asyncio.Future[T]:
    """Run ``work`` on the hashing threads: one per core, since more only interleave argon2id's
    memory passes. A thread that finishes takes the next queued hash itself instead of waiting
    for the event loop to hand it over, which left the core idle between hashes."""
    global _hashing
    if _hashing is None:
        _hashing = ThreadPoolExecutor(max_workers=_cores(), thread_name_prefix="argon2")
    return asyncio.get_running_loop().run_in_executor(_hashing, work, *args)


@dataclass(frozen=True)
class Verification:
    ok: bool
    new_hash: str | None = None  # set when the stored hash used old parameters


class Passwords:
    def __init__(self, memory_kib: int, time_cost: int, parallelism: int) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_kib,
            parallelism=parallelism,
            hash_len=32,
            salt_len=16,
            type=Type.ID,
        )
        self._dummy_hash = self._hasher.hash(_DUMMY_PASSWORD)

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify_sync(self, stored_hash: str | None, password: str) -> Verification:
        try:
            self._hasher.verify(stored_hash or self._dummy_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return Verification(ok=False)
        if stored_hash is None:
            return Verification(ok=False)
        if self._hasher.check_needs_rehash(stored_hash):
            return Verification(ok=True, new_hash=self._hasher.hash(password))
        return Verification(ok=True)

    async def verify(self, stored_hash: str | None, password: str) -> Verification:
        return await _hash_on_worker(self.verify_sync, stored_hash, password)

    async def hash_async(self, password: str) -> str:
        return await _hash_on_worker(self._hasher.hash, password)


def _cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))  # the cores this process may run on
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)
