"""Starting servers pinned to cores, waiting for them, and stopping exactly what was started."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
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
        self._wait(ready_url)

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
