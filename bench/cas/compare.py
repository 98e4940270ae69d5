"""CAS ticket validation side by side: 一号通's ``/cas/p3/serviceValidate`` and
django-cas-server's, one worker each on core 0, wrk on core 1, each ticket validated once, the
rounds interleaved (the side that goes first alternates) and the median round kept per side.

Yihaotong runs as in production (``yihaotong serve``, PostgreSQL, Redis for tickets);
django-cas-server under gunicorn (one sync worker) on SQLite, its default. Tickets are minted
beforehand by each side's own code, not counted."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bench.procs import Server
from bench.sides import ROOT, _psql, _redis_delete, settings_of, standalone

HERE = Path(__file__).parent
PEER_PROJECT = ROOT / "tests" / "providers" / "cas_server"
BIN = Path(sys.executable).parent
SERVICE = "https://estate.city.gov.cn/cas/login"
PATH = "/cas/p3/serviceValidate"
OURS, PEER = "yihaotong", "django-cas-server"
RATIO_GOAL = 3.0
P99_LIMIT_MS = 50.0
# Both sides' connections (see bench/README.md): enough to keep one worker busy, few enough that
# the p99 is the server's and not a queue the bench chose. One round a side at QUEUED checks it.
CONNECTIONS = 4
QUEUED = 16


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _mint_ours(env: dict[str, str], count: int) -> list[str]:
    from gateway.cas.tickets import SERVICE_TICKET, Ticket, Tickets, new_ticket
    from gateway.server.services import open_services
    from gateway.server.settings import Settings

    services = await open_services(Settings(**settings_of(env)))
    try:
        account = await services.accounts.create_local(
            username="bench", password=secrets.token_urlsafe(16), name="测试"
        )
        _, session = services.sessions.new(account.id, ["pwd"], "L1", "bench", "127.0.0.1")
        await services.sessions.store(session)
        [client] = [c for c in await services.clients.list() if c.protocol == "cas"]
        # Stored for an hour: minting and every round must fit (the server only reads them).
        tickets = Tickets(services.expiring, 3600, 3600)
        values = [new_ticket(SERVICE_TICKET) for _ in range(count)]
        attributes = {"name": "测试", "preferred_username": "bench", "acr": "L1", "amr": ["pwd"]}
        for start in range(0, count, 50):
            await asyncio.gather(*(
                tickets.issue(value, Ticket(client.client_id, SERVICE, account.id, account.id,
                                            session.sid, True, attributes))
                for value in values[start:start + 50]
            ))  # fmt: skip
        return [urlencode({"service": SERVICE, "ticket": value}) for value in values]
    finally:
        await services.close()


def _wrk(url: str, tickets: Path, seconds: float, connections: int) -> dict[str, Any]:
    command = ["taskset", "-c", "1", "wrk", "-t2", f"-c{connections}", f"-d{seconds:g}s",
               "--latency", "-s", str(HERE / "validate.lua"), url,
               "--", str(tickets), "2"]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    result["rate"] = round(result["successes"] / result["seconds"], 1)
    return result


def _rounds_files(work: Path, side: str, lines: list[str], rounds: int) -> list[Path]:
    """The tickets split into one file a round (each ticket is validated once)."""
    size = len(lines) // rounds
    files = []
    for number in range(rounds):
        path = work / f"{side}-{number}.txt"
        path.write_text("\n".join(lines[number * size : (number + 1) * size]) + "\n")
        files.append(path)
    return files


def _start_ours(work: Path, env: dict[str, str], port: int, count: int) -> tuple[Server, list[str]]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("YIHAOTONG_")} | env
    subprocess.run([BIN / "yihaotong", "clients", "create", "--name", "bench", "--protocol",
                    "cas", "--service-url", SERVICE, "--json"],
                   env=full, check=True, capture_output=True)  # fmt: skip
    lines = asyncio.run(_mint_ours(env, count))
    command = [str(BIN / "yihaotong"), "serve", "--host", "127.0.0.1", "--port", str(port),
               "--workers", "1"]  # fmt: skip
    server = Server(command, cpus="0", env=full, log=work / "yihaotong.log",
                    ready_url=f"http://127.0.0.1:{port}/healthz", cwd=ROOT)  # fmt: skip
    return server, lines


def _start_peer(work: Path, port: int, count: int) -> tuple[Server, list[str]]:
    env = os.environ | {
        "CAS_TEST_DIR": str(work),
        "PEER_PROJECT": str(PEER_PROJECT),
        "DJANGO_SETTINGS_MODULE": "peer_settings",
        "PYTHONPATH": f"{HERE}:{PEER_PROJECT}",
    }
    subprocess.run([sys.executable, "-m", "django", "migrate", "-v", "0"], env=env,
                   check=True, capture_output=True)  # fmt: skip
    minted = subprocess.run([sys.executable, str(HERE / "mint_peer.py"), SERVICE, str(count)],
                            env=env, check=True, capture_output=True, text=True)  # fmt: skip
    command = [str(BIN / "gunicorn"), "--workers", "1", "--bind", f"127.0.0.1:{port}",
               "--chdir", str(HERE), "peer_wsgi:application"]  # fmt: skip
    server = Server(command, cpus="0", env=env, log=work / "peer.log",
                    ready_url=f"http://127.0.0.1:{port}/cas/login", cwd=ROOT)  # fmt: skip
    return server, minted.stdout.splitlines()


def _measure(
    server: Server, url: str, tickets: Path, seconds: float, connections: int
) -> dict[str, Any]:
    before = server.cpu_seconds()
    result = _wrk(url, tickets, seconds, connections)
    cpu = server.cpu_seconds() - before
    result["cpu_ms_per_validation"] = (
        round(cpu * 1000 / result["successes"], 3) if result["successes"] else None
    )
    return result


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median round (by rate), every round's rate, and the round at QUEUED connections
    (the last): its rate, p99, and the median's share of that rate."""
    *measured, queued = runs
    median = statistics.median_low(run["rate"] for run in measured)
    chosen = next(run for run in measured if run["rate"] == median)
    return {**chosen, "rates": [run["rate"] for run in measured],
            "queued": {"connections": QUEUED, "rate": queued["rate"],
                       "p99_ms": queued["p99_ms"],
                       "full_rate_share": round(median / max(queued["rate"], 0.1), 2)}}  # fmt: skip


def run(
    tickets: int, seconds: float, rounds: int, log: Any = print, connections: int = CONNECTIONS
) -> dict[str, Any]:
    """Both servers up on core 0, ``rounds`` measurements each, interleaved; ``tickets`` is
    Yihaotong's per round (the peer gets a quarter: it validates far fewer)."""
    run_id = secrets.token_hex(4)
    ports = {OURS: free_port(), PEER: free_port()}
    work, database, _, env = standalone("cas", ports[OURS], run_id)
    env |= {"YIHAOTONG_CAS_TICKET_TTL": "300", "YIHAOTONG_LOG_LEVEL": "WARNING"}
    _psql(f'CREATE DATABASE "{database}"')
    servers: dict[str, Server] = {}
    try:
        servers[OURS], ours = _start_ours(work, env, ports[OURS], tickets * (rounds + 1))
        servers[PEER], peer = _start_peer(work, ports[PEER], max(tickets // 4, 500) * (rounds + 1))
        files = {OURS: _rounds_files(work, OURS, ours, rounds + 1),
                 PEER: _rounds_files(work, PEER, peer, rounds + 1)}  # fmt: skip
        urls = {side: f"http://127.0.0.1:{port}{PATH}" for side, port in ports.items()}
        runs: dict[str, list[dict[str, Any]]] = {OURS: [], PEER: []}
        for number in range(rounds + 1):
            # The last round, at QUEUED connections, shows whether CONNECTIONS kept each busy.
            count = connections if number < rounds else QUEUED
            for side in (OURS, PEER) if number % 2 == 0 else (PEER, OURS):
                result = _measure(servers[side], urls[side], files[side][number], seconds, count)
                runs[side].append(result)
                log(f"  {side:18} round {number + 1}: {result['rate']:8.1f}/s  "
                    f"p99 {result['p99_ms']:6.1f} ms  {result['failures']} failed  "
                    f"({count} connections)")  # fmt: skip
    finally:
        for server in servers.values():
            server.stop()
        _psql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        _redis_delete(13, env["YIHAOTONG_REDIS_PREFIX"])
        shutil.rmtree(work, ignore_errors=True)
    result: dict[str, Any] = {side: _summary(runs[side]) for side in (OURS, PEER)}
    result["ratio"] = round(result[OURS]["rate"] / max(result[PEER]["rate"], 0.1), 2)
    ours_cpu, peer_cpu = (result[side]["cpu_ms_per_validation"] for side in (OURS, PEER))
    # Validations a CPU-second, ours over the peer's: steadier than the rates on a shared machine.
    result["cpu_ratio"] = round(peer_cpu / ours_cpu, 2) if ours_cpu and peer_cpu else None
    result["rounds"], result["seconds"], result["connections"] = rounds, seconds, connections
    return result


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    p99 = result[OURS]["p99_ms"]
    return [
        {"target": f"CAS serviceValidate >= {RATIO_GOAL:g}x django-cas-server",
         "value": result["ratio"], "met": result["ratio"] >= RATIO_GOAL},
        {"target": f"CAS serviceValidate p99 < {P99_LIMIT_MS:g} ms", "value": p99,
         "met": p99 < P99_LIMIT_MS},
    ]  # fmt: skip
