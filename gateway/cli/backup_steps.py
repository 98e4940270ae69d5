"""What ``backup`` and ``restore`` do, without the command line: the durable state into one
encrypted archive (keys/archive.py holds the container, store/snapshot.py the rows), and back
into an empty installation, all or nothing.

The body, one JSON value a line: the sealed master key when asked for, the files of the data
directory that cannot be made again (the SAML identity provider's key pair), each table's
columns and rows, and an end record with the row counts."""

from __future__ import annotations

import base64
import contextlib
import itertools
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from gateway.admin.changes import Actor
from gateway.identity.audit import AuditLog
from gateway.server.settings import Settings
from keys.archive import Damaged, Opener, Sealer, open_secret, seal_secret
from keys.master import MasterKey, write_master_key_file
from store.clock import SystemClock
from store.database import Database
from store.migrate import current_revision, head_revision, known_revision, upgrade, upgrade_to
from store.records import AuditEvent
from store.snapshot import counts, dump, load, snapshot

KEPT_DIRECTORIES = ("saml",)  # under DATA_DIR: state a restore could not make again


class Refused(Exception):
    """The target or the keys at hand do not allow this backup or restore."""


@dataclass
class Outcome:
    """What a backup wrote or a restore read."""

    archive: Path
    created_at: str
    revision: str
    fingerprint: str
    master_key_included: bool
    rows: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    spool_waiting: int = 0
    master_key_restored: bool = False

    def document(self) -> dict[str, Any]:
        return {
            "archive": str(self.archive),
            "created_at": self.created_at,
            "schema_revision": self.revision,
            "master_key_fingerprint": self.fingerprint,
            "master_key_included": self.master_key_included,
            "rows": sum(self.rows.values()),
            "tables": self.rows,
            "files": self.files,
        }


def _kept_files(data_dir: Path) -> Iterator[tuple[str, bytes]]:
    for name in KEPT_DIRECTORIES:
        directory = data_dir / name
        if directory.is_dir():
            for path in sorted(p for p in directory.rglob("*") if p.is_file()):
                yield path.relative_to(data_dir).as_posix(), path.read_bytes()


def spool_waiting(data_dir: Path) -> int:
    """Audit entries in the local spool, not yet in the database (so not in a backup)."""
    directory = data_dir / "audit-spool"
    if not directory.is_dir():
        return 0
    return sum(path.read_bytes().count(b"\n") for path in directory.glob("seg-*.jsonl"))


def _line(record: Any) -> bytes:
    return orjson.dumps(record) + b"\n"


async def _audit(database: Database, settings: Settings, event: AuditEvent, session: Any) -> None:
    audit = AuditLog(database, SystemClock(), settings.data_dir / "audit-spool")
    await audit.record(event, session=session)


async def write_backup(
    settings: Settings, archive: Path, passphrase: str, key_passphrase: str | None, actor: Actor
) -> Outcome:
    """Write ``archive`` (never over an existing file: the link fails): whole, or not at all."""
    master_key = MasterKey.from_file(settings.resolved_master_key_file)
    database = Database(settings.resolved_database_url)
    try:
        revision = await current_revision(database)
        if revision != head_revision():
            raise Refused("the database schema is missing or old; run `yihaotong init` first")
        outcome = Outcome(
            archive,
            datetime.now(UTC).isoformat(timespec="seconds"),
            revision or "",
            master_key.fingerprint(),
            key_passphrase is not None,
            spool_waiting=spool_waiting(settings.data_dir),
        )
        partial = archive.with_name(f".{archive.name}.partial")
        try:
            await _write(database, settings, outcome, partial, passphrase, key_passphrase)
            try:  # unlike a rename, a link never replaces a file made meanwhile
                os.link(partial, archive)
            except FileExistsError:
                raise Refused(f"{archive} exists already; choose a new name") from None
        finally:
            partial.unlink(missing_ok=True)
        event = AuditEvent(
            "backup.created",
            actor=actor.id,
            details=actor.stamped(
                {"rows": sum(outcome.rows.values()), "master_key": outcome.master_key_included}
            ),
        )
        await _audit(database, settings, event, None)
    finally:
        await database.close()
    return outcome


async def _write(
    database: Database,
    settings: Settings,
    outcome: Outcome,
    partial: Path,
    passphrase: str,
    key_passphrase: str | None,
) -> None:
    header = {
        "created_at": outcome.created_at,
        "schema_revision": outcome.revision,
        "database": "sqlite" if database.is_sqlite else "postgresql",
        "master_key": {"fingerprint": outcome.fingerprint, "included": bool(key_passphrase)},
    }
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        sealer = Sealer(out, passphrase, header)
        if key_passphrase is not None:
            master = MasterKey.from_file(settings.resolved_master_key_file)
            sealer.write(_line({"master_key": seal_secret(master.export(), key_passphrase)}))
        for name, data in _kept_files(settings.data_dir):
            sealer.write(_line({"file": name, "data": base64.b64encode(data).decode()}))
            outcome.files.append(name)
        async with snapshot(database) as connection:
            table = ""
            async for record in dump(connection):
                if isinstance(record, dict):
                    table = record["table"]
                    outcome.rows[table] = 0
                else:
                    outcome.rows[table] += 1
                sealer.write(_line(record))
        sealer.write(_line({"end": True, "rows": outcome.rows}))
        sealer.close()
        out.flush()
        os.fsync(out.fileno())


def describe(opener: Opener, archive: Path) -> Outcome:
    """The archive's header as an outcome (what it says of itself, before its body is read)."""
    header = opener.header
    key = header.get("master_key") or {}
    return Outcome(
        archive,
        str(header.get("created_at", "")),
        str(header.get("schema_revision", "")),
        str(key.get("fingerprint", "")),
        bool(key.get("included")),
    )


def check_master_key(settings: Settings, outcome: Outcome) -> bool:
    """Whether the archive's key must be restored (no key file here); Refused when the key
    file here is another key, or there is none and the archive does not carry it."""
    path = settings.resolved_master_key_file
    if path.exists():
        found = MasterKey.from_file(path).fingerprint()
        if found != outcome.fingerprint:
            raise Refused(
                f"the master key at {path} ({found}) is not the archive's ({outcome.fingerprint}); "
                "put the archive's key there, or move this one away to restore the archived key"
            )
        return False
    if not outcome.master_key_included:
        raise Refused(
            f"no master key at {path}: put the key with fingerprint {outcome.fingerprint} there "
            "(the archive does not carry it; `backup --include-master-key` would)"
        )
    return True


async def restore_backup(
    settings: Settings,
    opener: Opener,
    outcome: Outcome,
    key_passphrase: Callable[[], str],
    actor: Actor,
) -> Outcome:
    """Load the archive into an empty installation: every row in one transaction, the key and
    files written before it and removed again when it does not commit."""
    if not known_revision(outcome.revision):
        raise Refused(
            f"the archive's schema revision {outcome.revision} is newer than this version's "
            f"({head_revision()}); restore it with the version that wrote it"
        )
    restore_key = check_master_key(settings, outcome)
    passphrase = key_passphrase() if restore_key else None
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = Database(settings.resolved_database_url)
    created: list[Path] = []
    try:
        await _schema_for(database, outcome.revision)
        records = opener.records()
        first = _before_tables(settings, records, outcome, passphrase, created)
        async with database.transaction() as session:
            written, end = await load(session, itertools.chain(first, records))
            outcome.rows = await counts(session)
            _check_end(end, records, outcome.rows)
            details = {"rows": written, "archive_created_at": outcome.created_at}
            event = AuditEvent("backup.restored", actor=actor.id, details=actor.stamped(details))
            await _audit(database, settings, event, session)
        created.clear()  # committed: the key and files now belong to the restored rows
        await upgrade(database)
    except BaseException:
        for path in created:
            with contextlib.suppress(OSError):
                path.unlink()
        raise
    finally:
        await database.close()
    outcome.master_key_restored = restore_key
    return outcome


async def _schema_for(database: Database, revision: str) -> None:
    """The archive's schema in a database without one; a database with another refuses."""
    current = await current_revision(database)
    if current is None:
        await upgrade_to(database, revision)
    elif current != revision:
        raise Refused(
            f"the target database has a schema already (revision {current}, the archive's is "
            f"{revision}); restore into a new database"
        )


def _before_tables(
    settings: Settings,
    records: Iterator[Any],
    outcome: Outcome,
    passphrase: str | None,
    created: list[Path],
) -> list[Any]:
    """Write the key and files that come before the tables; the first table record."""
    for record in records:
        if not isinstance(record, dict):
            raise Damaged("the archive's body is not in order")
        if "master_key" in record:
            if passphrase is not None:
                _restore_key(settings, record["master_key"], passphrase, outcome, created)
        elif "file" in record:
            _restore_file(settings.data_dir, record, created)
            outcome.files.append(str(record["file"]))
        else:
            return [record]
    return []


def _restore_key(
    settings: Settings, sealed: dict[str, Any], passphrase: str, outcome: Outcome, created: list
) -> None:
    key = open_secret(sealed, passphrase)
    if MasterKey(key).fingerprint() != outcome.fingerprint:
        raise Damaged("the archived master key is not the one the archive names")
    path = settings.resolved_master_key_file
    if not write_master_key_file(path, key):
        raise Refused(f"a master key file appeared at {path} meanwhile")
    created.append(path)


def _restore_file(data_dir: Path, record: dict[str, Any], created: list[Path]) -> None:
    name = str(record["file"])
    path = (data_dir / name).resolve()
    if data_dir.resolve() not in path.parents or name.split("/")[0] not in KEPT_DIRECTORIES:
        raise Damaged(f"the archive names a file outside the data directory: {name}")
    data = base64.b64decode(record["data"])
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if path.read_bytes() != data:
            raise Refused(f"{path} exists and differs from the archive's; move it away") from None
        return
    created.append(path)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _check_end(end: dict[str, Any] | None, rest: Iterator[Any], found: dict[str, int]) -> None:
    """The end record is there, nothing follows it (reading on checks the last chunk), and the
    tables hold what it counted."""
    if end is None or end.get("end") is not True:
        raise Damaged("the archive ends before its last record")
    if next(rest, None) is not None:
        raise Damaged("the archive holds records after its end")
    expected = {str(k): int(v) for k, v in (end.get("rows") or {}).items()}
    if any(found.get(name, 0) != count for name, count in expected.items()):
        raise Damaged("the archive's tables do not hold the rows its end record counts")
