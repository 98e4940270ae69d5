"""Throw-away Redis deployments for tests: a three-master Redis Cluster and a Sentinel-watched
master, each a set of real ``redis-server`` processes on free ports in a temporary directory."""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support import ServerProcess, free_port, required, serve

SENTINEL_SERVICE = "yht"


def require_redis_binaries() -> None:
    required(
        bool(shutil.which("redis-server") and shutil.which("redis-cli")),
        "redis-server and redis-cli (Debian redis-server)",
    )


def _redis_server(directory: Path, port: int, *options: str) -> ServerProcess:
    command = [
        "redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory),
        "--save", "", "--appendonly", "no", *options,
    ]  # fmt: skip
    return serve(command, port, f"redis://127.0.0.1:{port}", directory / f"redis-{port}.log")


def _cli(port: int, *args: str, timeout: float = 30) -> str:
    done = subprocess.run(
        ["redis-cli", "-h", "127.0.0.1", "-p", str(port), *args],
        capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"redis-cli {' '.join(args)}: {done.stdout}{done.stderr}")
    return done.stdout


@dataclass
class LocalRedis:
    """Several redis-server processes and the store URL that reaches them."""

    url: str
    ports: list[int]
    processes: list[ServerProcess] = field(default_factory=list)

    def stop(self) -> None:
        for process in self.processes:
            process.stop()


def start_cluster(directory: Path, masters: int = 3) -> LocalRedis:
    """Masters with all 16384 slots between them, no replicas; returns once every node says
    ``cluster_state:ok``."""
    directory.mkdir(parents=True, exist_ok=True)
    ports = [free_port() for _ in range(masters)]
    cluster = LocalRedis(
        "redis+cluster://" + ",".join(f"127.0.0.1:{port}" for port in ports), ports
    )
    try:
        for port in ports:
            options = [
                "--cluster-enabled", "yes",
                "--cluster-config-file", f"nodes-{port}.conf",
                "--cluster-port", str(free_port()),  # the bus port, not port + 10000
                "--cluster-node-timeout", "5000",
            ]  # fmt: skip
            cluster.processes.append(_redis_server(directory, port, *options))
        _cli(
            ports[0], "--cluster", "create", *(f"127.0.0.1:{port}" for port in ports),
            "--cluster-replicas", "0", "--cluster-yes",
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while not all("cluster_state:ok" in _cli(port, "cluster", "info") for port in ports):
            if time.monotonic() > deadline:
                raise RuntimeError("the Redis Cluster did not reach cluster_state:ok in 30 s")
            time.sleep(0.1)
    except BaseException:
        cluster.stop()
        raise
    return cluster


def start_sentinel(directory: Path) -> LocalRedis:
    """One master and one sentinel watching it as ``SENTINEL_SERVICE`` (quorum 1)."""
    directory.mkdir(parents=True, exist_ok=True)
    master_port, sentinel_port = free_port(), free_port()
    deployment = LocalRedis(
        f"redis+sentinel://127.0.0.1:{sentinel_port}/{SENTINEL_SERVICE}",
        [master_port, sentinel_port],
    )
    try:
        deployment.processes.append(_redis_server(directory, master_port))
        config = directory / "sentinel.conf"  # sentinel rewrites its config: a file of its own
        config.write_text(
            f"sentinel monitor {SENTINEL_SERVICE} 127.0.0.1 {master_port} 1\n"
            f"sentinel down-after-milliseconds {SENTINEL_SERVICE} 5000\n"
        )
        command = [
            "redis-server", str(config), "--sentinel", "--port", str(sentinel_port),
            "--bind", "127.0.0.1", "--dir", str(directory),
        ]  # fmt: skip
        deployment.processes.append(
            serve(command, sentinel_port, "", directory / f"sentinel-{sentinel_port}.log")
        )
        deadline = time.monotonic() + 30
        while str(master_port) not in _cli(
            sentinel_port, "sentinel", "get-master-addr-by-name", SENTINEL_SERVICE
        ):
            if time.monotonic() > deadline:
                raise RuntimeError("the sentinel did not name the master in 30 s")
            time.sleep(0.1)
    except BaseException:
        deployment.stop()
        raise
    return deployment
