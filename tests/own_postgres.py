"""A throw-away PostgreSQL server of the test's own (initdb + pg_ctl on a free port in a temporary
directory), for tests that stop and restart the database: the shared server is never touched."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support import free_port, required


def _binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


@dataclass
class OwnPostgres:
    """One server; ``url`` reaches its ``postgres`` database as the ``postgres`` role (trust)."""

    bin: Path
    root: Path
    port: int
    user: str | None  # the OS user the server runs as (initdb refuses root)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def data(self) -> Path:
        return self.root / "data"

    def _run(self, *command: str, timeout: float = 60) -> None:
        argv = [str(self.bin / command[0]), *command[1:]]
        if self.user is not None:
            argv = ["runuser", "-u", self.user, "--", *argv]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"{command[0]} failed: {done.stdout}{done.stderr}")

    def _ctl(self, *args: str) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), *args)

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync")
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        (self.data / "postgresql.auto.conf").write_text("")
        self._options = options

    def start(self) -> None:
        self._ctl("-w", "-t", "60", "-o", self._options, "start")

    def stop(self) -> None:
        self._ctl("-w", "-t", "60", "-m", "fast", "stop")

    def stop_smart(self) -> None:
        """Begin a smart shutdown without waiting: while any session is left, new connections
        are refused with "the database system is shutting down"."""
        self._ctl("-W", "-m", "smart", "stop")

    def wait_stopped(self) -> None:
        """Finish a shutdown in progress (fast: remaining sessions are ended)."""
        try:
            self.stop()
        except RuntimeError as error:
            if "does not exist" not in str(error) and "Is server running" not in str(error):
                raise

    def restart(self) -> None:
        """``pg_ctl restart -m fast``: every session is ended, then the server comes back."""
        self._ctl("-w", "-t", "60", "-m", "fast", "-o", self._options, "restart")


@contextmanager
def own_postgres() -> Iterator[OwnPostgres]:
    binaries = _binaries()
    required(binaries is not None, "PostgreSQL server binaries (Debian postgresql)")
    assert binaries is not None
    user = None
    if os.geteuid() == 0:
        required(shutil.which("runuser") is not None, "runuser (to run PostgreSQL as non-root)")
        user = "postgres"
        pwd.getpwnam(user)
    root = Path(tempfile.mkdtemp(prefix="yht-pg-"))
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    server = OwnPostgres(binaries, root, free_port(), user)
    try:
        server.init()
        server.start()
        yield server
    finally:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            server.stop()  # fails when not running (a failed start): nothing to stop
        shutil.rmtree(root, ignore_errors=True)
