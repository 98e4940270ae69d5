"""``backup`` and ``restore``: the durable state in one encrypted archive, and back into an
empty installation. Passphrases come from a file (``-``: standard input), a variable or a
prompt, never from an argument."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from gateway.cli.backup_steps import Outcome, Refused, describe, restore_backup, write_backup
from gateway.cli.common import JsonFlag, emit, fail, load_settings, operator, run
from keys.archive import ArchiveError, Opener
from store.snapshot import NotEmpty, SnapshotError

PASSPHRASE_VARIABLE = "YIHAOTONG_BACKUP_PASSPHRASE"  # noqa: S105 (a variable's name)
KEY_PASSPHRASE_VARIABLE = "YIHAOTONG_MASTER_KEY_PASSPHRASE"  # noqa: S105
SHORTEST_PASSPHRASE = 12
# Exit codes beside 1 (any other failure) and 2 (usage, configuration).
UNREADABLE = 3  # wrong passphrase, or the archive was altered or is damaged
REFUSED = 4  # the target is not empty, or the master key at hand is not the archive's

PassphraseFile = Annotated[
    Path | None,
    typer.Option(
        "--passphrase-file",
        help=f"Read the archive's passphrase from this file (`-`: standard input); "
        f"else ${PASSPHRASE_VARIABLE}, else a prompt.",
    ),
]
KeyPassphraseFile = Annotated[
    Path | None,
    typer.Option(
        "--master-key-passphrase-file",
        help=f"Read the master key's own passphrase from this file (`-`: standard input); "
        f"else ${KEY_PASSPHRASE_VARIABLE}, else a prompt.",
    ),
]


def read_passphrase(file: Path | None, variable: str, what: str, *, new: bool) -> str:
    """A passphrase from ``file``, the ``variable``, or a prompt when a person is there."""
    if file is not None:
        try:
            text = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            fail(f"cannot read {what} from {file}: {error}")
        value = text.splitlines()[0] if text.strip() else ""
    elif os.environ.get(variable):
        value = os.environ[variable]
    elif sys.stdin.isatty():
        value = typer.prompt(what.capitalize(), hide_input=True, confirmation_prompt=new)
    else:
        fail(f"give {what} in a file or ${variable} (never as an argument)", 2)
    if new and len(value) < SHORTEST_PASSPHRASE:
        fail(f"{what} must be at least {SHORTEST_PASSPHRASE} characters", 2)
    if not value:
        fail(f"{what} is empty", 2)
    return value


def _lines(outcome: Outcome, verb: str) -> list[str]:
    lines = [
        f"{verb} {outcome.archive}: {sum(outcome.rows.values())} rows in "
        f"{sum(1 for n in outcome.rows.values() if n)} tables, schema {outcome.revision}",
        f"master key {outcome.fingerprint}: "
        + ("carried, sealed apart" if outcome.master_key_included else "not carried"),
    ]
    lines += [f"file {name}" for name in outcome.files]
    return lines


def backup(
    archive: Annotated[Path, typer.Argument(help="The archive to write (never overwritten).")],
    passphrase_file: PassphraseFile = None,
    include_master_key: Annotated[
        bool,
        typer.Option(
            "--include-master-key",
            help="Carry the master key too, sealed by a passphrase of its own.",
        ),
    ] = False,
    key_passphrase_file: KeyPassphraseFile = None,
    as_json: JsonFlag = False,
) -> None:
    """Write an encrypted archive of the durable state: every table in one consistent snapshot,
    the SAML key pair, the master key's fingerprint (the key itself only with
    --include-master-key). Live sessions, codes and counters in Redis are not in it. Exit codes:
    1 failed, 2 usage, 4 refused."""
    settings = load_settings()
    if archive.exists():
        fail(f"{archive} exists already; choose a new name", REFUSED)
    passphrase = read_passphrase(passphrase_file, PASSPHRASE_VARIABLE, "the passphrase", new=True)
    key_passphrase = None
    if include_master_key:
        key_passphrase = read_passphrase(
            key_passphrase_file, KEY_PASSPHRASE_VARIABLE, "the master key passphrase", new=True
        )
        if key_passphrase == passphrase:
            fail("the master key passphrase must differ from the archive's", 2)
    try:
        outcome = run(
            lambda: write_backup(settings, archive, passphrase, key_passphrase, operator())
        )
    except Refused as error:
        fail(str(error), REFUSED)
    except OSError as error:
        fail(f"cannot write {error.filename or archive}: {error.strerror}")
    document = outcome.document() | {"audit_spool_waiting": outcome.spool_waiting}
    lines = _lines(outcome, "wrote")
    if outcome.spool_waiting:
        lines.append(f"{outcome.spool_waiting} audit entries wait in the spool and are not in it")
    emit(as_json, document, lines)


def restore(
    archive: Annotated[Path, typer.Argument(help="The archive to read.")],
    passphrase_file: PassphraseFile = None,
    key_passphrase_file: KeyPassphraseFile = None,
    as_json: JsonFlag = False,
) -> None:
    """Restore an archive into an empty installation (no rows in the database), in one
    transaction: all or nothing. The master key here must be the archive's, or absent and
    carried by the archive. Exit codes: 1 failed, 2 usage, 3 wrong passphrase or altered
    archive, 4 refused (not empty, another master key)."""
    settings = load_settings()
    passphrase = read_passphrase(passphrase_file, PASSPHRASE_VARIABLE, "the passphrase", new=False)

    def key_passphrase() -> str:
        return read_passphrase(
            key_passphrase_file, KEY_PASSPHRASE_VARIABLE, "the master key passphrase", new=False
        )

    try:
        with archive.open("rb") as handle:
            opener = Opener(handle, passphrase)
            described = describe(opener, archive)
            outcome = run(
                lambda: restore_backup(settings, opener, described, key_passphrase, operator())
            )
    except OSError as error:
        fail(f"{error.filename or archive}: {error.strerror}; nothing was restored")
    except ArchiveError as error:
        fail(f"{error}; nothing was restored", UNREADABLE)
    except (Refused, NotEmpty) as error:
        fail(f"{error}; nothing was restored", REFUSED)
    except SnapshotError as error:
        fail(f"{error}; nothing was restored", UNREADABLE)
    document = outcome.document() | {"master_key_restored": outcome.master_key_restored}
    lines = _lines(outcome, "restored")
    if outcome.master_key_restored:
        lines.append(f"master key written to {settings.resolved_master_key_file}")
    emit(as_json, document, lines)
