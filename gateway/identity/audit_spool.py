"""The local spool of batched audit entries: JSON lines in segment files under
``DATA_DIR/audit-spool``, the masked entry exactly as its row will hold it.

Each entry is appended (one ``write`` on an ``O_APPEND`` descriptor, which survives a killed
process) before the event it records is answered. A process writes one segment at a time and
holds an exclusive ``flock`` on each segment until its entries are in the database, so any
segment nobody holds is a leftover (of a process that died, or of a batch the database did not
take) that any process may claim and replay. Segments are created under a hidden name and
renamed once locked, so a replayer never claims one that is being opened."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

_PATTERN = "seg-*.jsonl"


class AuditUnavailable(Exception):
    """An audit entry could not be kept, so what it records must not happen."""


@dataclass
class Segment:
    path: Path
    fd: int
    entries: int = 0
    oldest: float | None = None


def line(entry: dict[str, Any]) -> bytes:
    return orjson.dumps(entry, option=orjson.OPT_NON_STR_KEYS) + b"\n"


class Spool:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._current: Segment | None = None
        self._serial = 0

    def _create(self) -> Segment:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._serial += 1
        name = f"seg-{os.getpid()}-{time.time_ns()}-{self._serial}.jsonl"
        hidden = self.directory / f".{name}"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC
        fd = os.open(hidden, flags, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.rename(hidden, self.directory / name)
        return Segment(self.directory / name, fd)

    def append(self, entry: dict[str, Any], at: float) -> None:
        """Append one entry to the current segment; AuditUnavailable when it cannot be kept."""
        data = line(entry)
        try:
            if self._current is None:
                self._current = self._create()
            written = os.write(self._current.fd, data)
        except OSError as error:
            raise AuditUnavailable(f"audit spool not writable: {error.strerror}") from error
        segment = self._current
        if written != len(data):
            # A torn line (a full disk): the segment ends here, readers skip the torn line.
            self.seal_and_release()
            raise AuditUnavailable("audit spool not writable: short write")
        segment.entries += 1
        if segment.oldest is None:
            segment.oldest = at

    def seal(self) -> Segment | None:
        """The current segment, closed to further entries (still held): a batch's own."""
        sealed, self._current = self._current, None
        return sealed

    def seal_and_release(self) -> None:
        sealed = self.seal()
        if sealed is not None:
            self.release(sealed)

    @staticmethod
    def sync(segment: Segment) -> None:
        os.fsync(segment.fd)

    @staticmethod
    def drop(segment: Segment) -> None:
        """Its entries are in the database: the segment goes."""
        try:
            os.unlink(segment.path)
        except FileNotFoundError:
            pass  # already replayed by another process after a release
        finally:
            os.close(segment.fd)

    @staticmethod
    def release(segment: Segment) -> None:
        """Left for a replay (made durable first: it may wait for a long time)."""
        try:
            os.fsync(segment.fd)
        finally:
            os.close(segment.fd)

    def keep(self, entries: list[dict[str, Any]]) -> None:
        """Write ``entries`` to a segment of their own, left for a replay."""
        segment = self._create()
        try:
            os.write(segment.fd, b"".join(line(entry) for entry in entries))
        finally:
            self.release(segment)

    def claim_leftovers(self) -> Iterator[Segment]:
        """Segments no live process holds, each locked for the caller, who drops or releases
        it."""
        if not self.directory.is_dir():
            return
        for path in sorted(self.directory.glob(_PATTERN)):
            try:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            yield Segment(path, fd)

    @staticmethod
    def read(segment: Segment) -> tuple[list[dict[str, Any]], int]:
        """The entries of a claimed segment, and how many lines could not be read (torn by a
        full disk or a crash of the machine)."""
        with os.fdopen(os.dup(segment.fd), "rb") as file:
            data = file.read()
        entries: list[dict[str, Any]] = []
        unreadable = 0
        for raw in data.split(b"\n"):
            if not raw.strip():
                continue
            try:
                entry = orjson.loads(raw)
            except orjson.JSONDecodeError:
                unreadable += 1
                continue
            if isinstance(entry, dict) and isinstance(entry.get("entry_id"), str):
                entries.append(entry)
            else:
                unreadable += 1
        segment.entries = len(entries)
        segment.oldest = min((float(e.get("at") or 0) for e in entries), default=None)
        return entries, unreadable
