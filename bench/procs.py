"""Starting servers pinned to cores, waiting for them, and stopping exactly what was started;
keeping the machine's PostgreSQL and Redis off a one-worker server's core while it is measured."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx


class Server:
    def __init__(
        self,
        command: list[str],
        *,
        cpus: str | None,
        env: dict[str, str],
        log: Path,
        ready_url: str,
        cwd: Path | None = None,
        ready_within: float = 60,
    ) -> None:
        if cpus:
            command = ["taskset", "-c", cpus, *command]
        self._log = log.open("ab")
        # Its own process group: stopping it stops uvicorn's or node's workers too, and
        # nothing else.
        self.process = subprocess.Popen(
            command,
            env=env,
            cwd=cwd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.log = log
        self._wait(ready_url, ready_within)

    def _wait(self, url: str, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited; see {self.log}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url, timeout=1).status_code == 200:
                    return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server did not answer {url} within {seconds:g} s; see {self.log}")

    def pids(self) -> list[int]:
        """The server's processes (the group it leads)."""
        found = subprocess.run(
            ["pgrep", "-g", str(self.process.pid)], capture_output=True, text=True, check=False
        )
        return [int(pid) for pid in found.stdout.split()]

    def cpu_seconds(self) -> float:
        """User + system CPU time used so far by the server's processes: CPU per request is
        steadier than requests per second on a machine shared with other work."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in self.pids():
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
                total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / ticks

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        self._log.close()


# The machine's own servers that both sides lean on (PostgreSQL's processes, Redis's threads).
BACKING_SERVICES = frozenset({"postgres", "redis-server"})


def _backing_threads() -> list[int]:
    """The thread ids of every thread of the backing services."""
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if (entry / "comm").read_text().strip() in BACKING_SERVICES:
                found.extend(int(task.name) for task in (entry / "task").iterdir())
    return found


@contextlib.contextmanager
def backing_services_on(cpus: str | None) -> Iterator[int]:
    """Keep PostgreSQL and Redis on ``cpus`` (wrk's core) while a one-worker server is measured,
    and put them back afterwards; yields how many threads were moved (0 when ``cpus`` is None
    or the bench may not move them). Left free, the scheduler moves their processes onto the
    server's core when wrk's is busy, and they then spend the server's core budget: more for
    the side that uses PostgreSQL on every grant. Backends forked meanwhile inherit the
    postmaster's setting, and are put back too."""
    if not cpus:
        yield 0
        return
    wanted = {int(cpu) for cpu in cpus.split(",")}
    before: dict[int, set[int]] = {}
    for tid in _backing_threads():
        with contextlib.suppress(OSError):  # gone, or not ours to move
            mask = os.sched_getaffinity(tid)
            os.sched_setaffinity(tid, wanted)
            before[tid] = mask
    try:
        yield len(before)
    finally:
        usual = set().union(*before.values()) if before else set()
        for tid in _backing_threads():
            mask = before.get(tid, usual)
            if mask:
                with contextlib.suppress(OSError):
                    os.sched_setaffinity(tid, mask)
