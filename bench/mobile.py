"""The mobile scenarios, apart from the side-by-side run (the peer has no scan to sign in):

- ``device_poll``: kiosks polling the token endpoint with pending device codes (RFC 8628),
  driven by wrk; answered polls per second of the server's CPU (goal: 3,000 per core);
- ``scan_wait``: PC sign-in pages waiting on their QR code, all long-polling one worker, then
  apps scanning and confirming some of them; the worker's memory with every page waiting
  (goal: under 300 MB) and the time from an app's confirmation to the page's answer (goal:
  p99 under 300 ms).

    python -m bench.mobile [--pcs 10000] [--seconds 6] [--only device_poll,scan_wait]

Production shape: PostgreSQL + Redis, ``yihaotong serve --workers 1`` on core 0, wrk and the
scripted PCs and apps on core 1. Results go to bench/results/mobile-<run>-<commit>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlencode

import httpx

from bench.procs import Server
from bench.runner import commit, now_id
from bench.sides import (
    CHALLENGE,
    PASSWORD,
    ROOT,
    VERIFIER,
    _psql,
    _redis_delete,
    settings_of,
    standalone,
)

LUA = Path(__file__).parent / "lua" / "device_poll.lua"
RESULTS = Path(__file__).parent / "results"
PORT = 9311
APP_CALLBACK = "http://127.0.0.1:9/app"
WEB_CALLBACK = "http://127.0.0.1:9/web"
DEVICE = "urn:ietf:params:oauth:grant-type:device_code"
APP_PEOPLE = 20  # each may scan 10 codes in 10 minutes (rate_limits.SCANS_PER_ACCOUNT)


async def provision(env: dict[str, str]) -> dict[str, str]:
    from gateway.server.services import initialize, open_services
    from gateway.server.settings import Settings

    settings = Settings(**settings_of(env))
    await initialize(settings)
    services = await open_services(settings)
    try:
        kiosk = await services.clients.register(name="Kiosk", grant_types=[DEVICE], public=True)
        app = await services.clients.register(name="App", redirect_uris=[APP_CALLBACK], public=True)
        web = await services.clients.register(name="Web", redirect_uris=[WEB_CALLBACK])
        for n in range(APP_PEOPLE):
            await services.accounts.create_local(
                username=f"bench{n:02d}", password=PASSWORD, name="Bench"
            )
    finally:
        await services.close()
    return {
        "kiosk": kiosk.client.client_id,
        "app": app.client.client_id,
        "web": web.client.client_id,
    }


def device_poll(base: str, kiosk: str, work: Path, seconds: float, server: Server) -> dict:
    with httpx.Client(base_url=base) as http:
        codes = [
            http.post("/oauth/device_authorization", data={"client_id": kiosk}).json()[
                "device_code"
            ]
            for _ in range(2000)
        ]
    (work / "device_codes").write_text("\n".join(codes) + "\n")
    command = ["taskset", "-c", "1", "wrk", "-t2", "-c32", f"-d{round(seconds)}s", "--latency",
               "-s", str(LUA), base, "--", str(work / "device_codes"), kiosk]  # fmt: skip
    cpu = server.cpu_seconds()
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    cpu = server.cpu_seconds() - cpu
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(\w+)", out)
    return {
        "scenario": "device_poll",
        "polls": total,
        "rps": rps,
        "server_cpu_s": round(cpu, 2),
        "polls_per_core_second": round(total / cpu, 1) if cpu else None,
        "p99": "".join(p99.groups()) if p99 else None,
    }


async def app_token(base: str, app: str, username: str) -> str:
    async with httpx.AsyncClient(base_url=base) as http:
        query = urlencode({"client_id": app, "response_type": "code", "scope": "openid",
                           "redirect_uri": APP_CALLBACK, "code_challenge": CHALLENGE,
                           "code_challenge_method": "S256"})  # fmt: skip
        page = await http.get((await http.get(f"/oauth/authorize?{query}")).headers["location"])
        fields: dict[str, str] = {}  # the password form's: it comes first
        for name, value in re.findall(r'name="(tx|csrf_token)" value="([^"]+)"', page.text):
            fields.setdefault(name, value)
        posted = await http.post(
            "/login", data={**fields, "username": username, "password": PASSWORD}
        )
        code = httpx.URL((await http.get(posted.headers["location"])).headers["location"]).params[
            "code"
        ]
        exchange = {"grant_type": "authorization_code", "code": code, "client_id": app,
                    "redirect_uri": APP_CALLBACK, "code_verifier": VERIFIER}  # fmt: skip
        tokens = await http.post("/oauth/token", data=exchange)
        return tokens.json()["access_token"]


class Pc:
    """One PC sign-in page: its browser cookie, its transaction and ticket, and its long-poll
    (plain HTTP/1.1 on a socket of its own, as a browser's fetch)."""

    def __init__(self, n: int) -> None:
        self.cookie = f"yht_browser=pc{n:06d}{secrets.token_hex(8)}"
        self.tx = self.ticket = ""
        self.state = "waiting"
        self.changed = asyncio.Event()
        self.heard_at = 0.0

    async def open(self, http: httpx.AsyncClient, web: str) -> None:
        query = urlencode({"client_id": web, "response_type": "code", "scope": "openid",
                           "redirect_uri": WEB_CALLBACK, "state": "s"})  # fmt: skip
        headers = {"Cookie": self.cookie}
        started = await http.get(f"/oauth/authorize?{query}", headers=headers)
        self.tx = started.headers["location"].split("tx=")[1]
        page = await http.get(f"/login/scan?tx={self.tx}", headers=headers)
        found = re.search(r'class="qr-link" href="([^"]+)"', page.text)
        if found is None:
            shown = page.text[:300]
            raise RuntimeError(f"no QR code on the scan page ({page.status_code}): {shown}")
        self.ticket = found.group(1)

    async def wait(self, port: int, failures: Counter[str]) -> None:
        """Long-poll as the page's script does: after an answer that is not a state, or a
        lost connection, ask again 3 s later (each counted in ``failures``)."""
        while self.state in ("waiting", "scanned"):
            try:
                await self._poll(port)
            except (OSError, EOFError, ValueError, AttributeError) as error:
                failures[f"long-poll {type(error).__name__}"] += 1
            except _NoState as answer:
                failures[f"long-poll answered {answer}"] += 1
            else:
                continue
            await asyncio.sleep(3)

    async def _poll(self, port: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while self.state in ("waiting", "scanned"):
                writer.write(
                    f"GET /login/scan/wait?tx={self.tx}&since={self.state} HTTP/1.1\r\n"
                    f"Host: 127.0.0.1\r\nCookie: {self.cookie}\r\n\r\n".encode()
                )
                await writer.drain()
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(re.search(rb"content-length: (\d+)", head, re.I).group(1))  # type: ignore[union-attr]
                body = json.loads(await reader.readexactly(length))
                if "state" not in body:
                    raise _NoState(head.split(b" ", 2)[1].decode())
                self.heard_at = time.perf_counter()
                self.state = body["state"]
                self.changed.set()
                self.changed = asyncio.Event()
        finally:
            writer.close()


class _NoState(Exception):
    """A long-poll answered without a state (the status code)."""


def rss_mb(server: Server) -> float:
    total = 0
    for pid in server.pids():
        status = Path(f"/proc/{pid}/status").read_text()
        total += int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1))  # type: ignore[union-attr]
    return round(total / 1024, 1)


async def open_pages(
    http: httpx.AsyncClient, web: str, pages: list[Pc], failures: Counter[str]
) -> list[asyncio.Task[None]]:
    """Open the pages 32 at a time, each then long-polling; a page that fails is counted."""
    waiting: list[asyncio.Task[None]] = []
    queue = list(pages)

    async def opener() -> None:
        while queue:
            pc = queue.pop()
            try:
                await pc.open(http, web)
            except (httpx.HTTPError, RuntimeError, KeyError) as error:
                failures[f"open {type(error).__name__}"] += 1
                pc.state = "failed"
                continue
            waiting.append(asyncio.create_task(pc.wait(PORT, failures)))

    await asyncio.gather(*(opener() for _ in range(32)))
    return waiting


async def confirm_some(
    http: httpx.AsyncClient, pages: list[Pc], tokens: list[str]
) -> tuple[list[float], int]:
    """Scan and confirm up to 200 waiting pages: the confirmation-to-page times, and misses."""
    latencies: list[float] = []
    missed = 0
    for n, pc in enumerate(pages[: APP_PEOPLE * 10]):  # the last opened: the youngest
        if pc.state != "waiting":
            continue
        app = {"Authorization": f"Bearer {tokens[n // 10]}"}
        changed = pc.changed
        scanned = await http.post("/mobile/scan", json={"ticket": pc.ticket}, headers=app)
        if scanned.status_code != 200:
            missed += 1
            continue
        try:
            await asyncio.wait_for(changed.wait(), 30)
            changed = pc.changed
            sent = time.perf_counter()
            await http.post("/mobile/scan/confirm", json={"ticket": pc.ticket}, headers=app)
            await asyncio.wait_for(changed.wait(), 30)
        except TimeoutError:
            missed += 1
            continue
        latencies.append((pc.heard_at - sent) * 1000)
    return sorted(latencies), missed


async def scan_wait(base: str, ids: dict[str, str], pcs: int, server: Server) -> dict:
    tokens = [await app_token(base, ids["app"], f"bench{n:02d}") for n in range(APP_PEOPLE)]
    idle_rss = rss_mb(server)
    # Idle connections are dropped before uvicorn's 5 s keep-alive ends them: a request sent
    # on one the server is closing fails (httpx ReadError).
    limits = httpx.Limits(max_connections=32, keepalive_expiry=2)
    pages = [Pc(n) for n in range(pcs)]
    failures: Counter[str] = Counter()
    started = time.perf_counter()
    cpu = server.cpu_seconds()
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as http:
        waiting = await open_pages(http, ids["web"], pages, failures)
        opened_in = time.perf_counter() - started
        open_cpu = server.cpu_seconds() - cpu
        await asyncio.sleep(2)
        held = sum(1 for pc in pages if pc.state == "waiting")
        rss = rss_mb(server)
        latencies, missed = await confirm_some(http, pages, tokens)
        for task in waiting:
            task.cancel()
    return {
        "scenario": "scan_wait",
        "pcs": pcs,
        "opened_in_s": round(opened_in, 1),
        "server_cpu_ms_per_page": round(open_cpu * 1000 / pcs, 1),
        "waiting_when_measured": held,
        "rss_idle_mb": idle_rss,
        "rss_waiting_mb": rss,
        "confirmations": len(latencies),
        "missed": missed,
        "failures": dict(failures),
        "confirm_to_page_p50_ms": round(latencies[len(latencies) // 2], 1) if latencies else None,
        "confirm_to_page_p99_ms": round(latencies[max(0, int(len(latencies) * 0.99) - 1)], 1)
        if latencies
        else None,
    }


def log_problems(log: Path) -> dict[str, int]:
    """The server log's WARNING and ERROR messages, counted (the run logs at WARNING)."""
    found: Counter[str] = Counter()
    for line in log.read_text(errors="replace").splitlines():
        with contextlib.suppress(ValueError):
            entry = json.loads(line)
            if isinstance(entry, dict) and entry.get("level") in ("warning", "error"):
                found[f"{entry['level']}: {entry.get('message', '')}"[:160]] += 1
    return dict(found.most_common(10))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pcs", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=6)
    parser.add_argument("--only", default="device_poll,scan_wait")
    options = parser.parse_args()
    # A stopped run still stops its server and drops its database (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    run = now_id()
    work, database, base, env = standalone("mobile", PORT, run)
    env["YIHAOTONG_LOG_LEVEL"] = "WARNING"  # a failing request says why in the log
    _psql(f'CREATE DATABASE "{database}"')
    server = None
    results = []
    try:
        ids = asyncio.run(provision(env))
        serve_env = {**os.environ, **env, "YIHAOTONG_MOBILE_APP_CLIENTS": ids["app"]}
        command = [sys.executable, "-c", "from gateway.cli import main; main()", "serve",
                   "--host", "127.0.0.1", "--port", str(PORT), "--workers", "1"]  # fmt: skip
        server = Server(command, cpus="0", env=serve_env, log=work / "yihaotong.log",
                        ready_url=base + "/healthz", cwd=ROOT)  # fmt: skip
        wanted = options.only.split(",")
        if "device_poll" in wanted:
            results.append(device_poll(base, ids["kiosk"], work, options.seconds, server))
            print(results[-1], flush=True)
        if "scan_wait" in wanted:
            results.append(asyncio.run(scan_wait(base, ids, options.pcs, server)))
            results[-1]["server_log"] = log_problems(server.log)
            print(results[-1], flush=True)
    finally:
        if server is not None:
            server.stop()
        _psql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        _redis_delete(13, env["YIHAOTONG_REDIS_PREFIX"])
    out = RESULTS / f"mobile-{run}-{commit()}.json"
    out.write_text(
        json.dumps({"run": run, "commit": commit(), "results": results}, indent=2) + "\n"
    )
    print(f"results: {out}")


if __name__ == "__main__":
    main()
