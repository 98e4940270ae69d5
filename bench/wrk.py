"""Running wrk with bench/lua/bench.lua and reading its one-line JSON summary."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LUA = Path(__file__).parent / "lua" / "bench.lua"


class WrkError(Exception):
    pass


@dataclass
class Request:
    """What one scenario sends; see bench.lua for the meaning of each field."""

    method: str = "GET"
    path: str = "/"
    body: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    bodies: Path | None = None  # prefix of per-thread files
    chain: str | None = None
    capture: str | None = None
    out: Path | None = None
    capture_limit: int | None = None
    stop_after_capture: bool = False
    proofs: Path | None = None  # prefix of per-thread files of DPoP proofs, one a request
    # Called with the measurement's seconds before each run, outside the server's measured CPU
    # (a DPoP scenario's fresh proofs: each is good once).
    before: Callable[[float], None] | None = None

    def conf_lines(self) -> list[str]:
        lines = [f"method={self.method}", f"path={self.path}"]
        if self.body is not None:
            lines.append(f"body={self.body}")
        lines += [f"header={name}: {value}" for name, value in self.headers.items()]
        for key in ("bodies", "chain", "capture", "out", "capture_limit", "proofs"):
            value = getattr(self, key)
            if value is not None:
                lines.append(f"{key}={value}")
        if self.stop_after_capture:
            lines.append("stop_after_capture=1")
        return lines


@dataclass
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    ok: int
    failed: int
    window_s: float
    socket_errors: int
    cpu_s: float | None = None  # the server's CPU time during the run
    # TCP segments this machine retransmitted during the run. On loopback these are tail-loss
    # probes, sent when an ACK is about 200 ms late: a sign that something on the machine stood
    # still that long during the run, which alone makes a p99.
    tcp_retransmits: int | None = None

    @property
    def cpu_ms_per_request(self) -> float | None:
        return None if self.cpu_s is None or not self.ok else self.cpu_s / self.ok * 1000

    def as_dict(self) -> dict[str, float | int]:
        return {
            "rps": round(self.rps, 1),
            "p50_ms": round(self.p50_ms, 2),
            "p99_ms": round(self.p99_ms, 2),
            "ok": self.ok,
            "failed": self.failed,
            "window_s": round(self.window_s, 3),
            "socket_errors": self.socket_errors,
            "server_cpu_ms_per_request": (
                None if self.cpu_ms_per_request is None else round(self.cpu_ms_per_request, 3)
            ),
            "tcp_retransmits": self.tcp_retransmits,
        }


def tcp_retransmits() -> int | None:
    """The machine's count of retransmitted TCP segments (RFC 4022 tcpRetransSegs), or None
    where /proc/net/snmp cannot be read."""
    try:
        lines = [line.split() for line in Path("/proc/net/snmp").read_text().splitlines()]
    except OSError:
        return None
    names, values = [line for line in lines if line and line[0] == "Tcp:"][:2]
    return int(values[names.index("RetransSegs")])


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise WrkError("wrk is not installed: apt-get install wrk")
    return found


def run(
    base_url: str,
    request: Request,
    conf_file: Path,
    *,
    duration: float,
    connections: int = 32,
    threads: int = 2,
    cpus: str | None = None,
    timeout: float = 5.0,
) -> Result:
    conf_file.write_text("\n".join(request.conf_lines()) + "\n")
    data = run_script(
        base_url, LUA, conf_file, duration=duration, connections=connections, threads=threads,
        cpus=cpus, timeout=timeout,
    )  # fmt: skip
    window = data["window_s"]
    errors = data["errors"]
    return Result(
        rps=data["ok"] / window if window > 0 else 0.0,
        p50_ms=data["latency_us"]["p50"] / 1000,
        p99_ms=data["latency_us"]["p99"] / 1000,
        ok=data["ok"],
        failed=data["failed"],
        window_s=window,
        socket_errors=errors["connect"] + errors["read"] + errors["write"] + errors["timeout"],
    )


def run_script(
    base_url: str,
    script: Path,
    conf_file: Path,
    *,
    duration: float,
    connections: int,
    threads: int = 2,
    cpus: str | None = None,
    timeout: float = 5.0,
) -> dict[str, Any]:
    """wrk with ``script`` and its configuration file; the script's ``BENCHJSON`` line."""
    command = [
        wrk_binary(),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        f"--timeout={timeout:g}s",
        "--latency",
        "-s",
        str(script),
        base_url,
        "--",
        str(conf_file),
    ]
    if cpus:
        command = ["taskset", "-c", cpus, *command]
    finished = subprocess.run(
        command, capture_output=True, text=True, timeout=duration + 120, check=False
    )
    for line in finished.stdout.splitlines():
        if line.startswith("BENCHJSON "):
            return json.loads(line[len("BENCHJSON ") :])  # type: ignore[no-any-return]
    raise WrkError(f"wrk printed no summary: {finished.stdout[-500:]} {finished.stderr[-500:]}")


def split_lines(lines: list[str], prefix: Path, threads: int) -> Path:
    """Write ``lines`` round-robin into PREFIX.1 … PREFIX.<threads> (bench.lua's per-thread
    input) and return PREFIX."""
    for n in range(threads):
        Path(f"{prefix}.{n + 1}").write_text("\n".join(lines[n::threads]) + "\n")
    return prefix


def read_lines(prefix: Path, threads: int) -> list[str]:
    lines: list[str] = []
    for n in range(threads):
        path = Path(f"{prefix}.{n + 1}")
        if path.exists():
            lines += [line for line in path.read_text().splitlines() if line]
    return lines
