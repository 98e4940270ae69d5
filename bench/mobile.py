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
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx

from bench.procs import Server
from bench.runner import commit, now_id
from bench.sides import CHALLENGE, PASSWORD, REDIS, ROOT, VERIFIER, _psql, _redis_delete

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

    settings = Settings(
        **{
            k.removeprefix("YIHAOTONG_").lower(): v
            for k, v in env.items()
            if k.startswith("YIHAOTONG_")
        }
    )
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
        self.ticket = re.search(r'class="qr-link" href="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]

    async def wait(self, port: int) -> None:
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
                self.heard_at = time.perf_counter()
                self.state = body["state"]
                self.changed.set()
                self.changed = asyncio.Event()
        finally:
            writer.close()


def rss_mb(server: Server) -> float:
    total = 0
    for pid in server.pids():
        status = Path(f"/proc/{pid}/status").read_text()
        total += int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1))  # type: ignore[union-attr]
    return round(total / 1024, 1)


async def scan_wait(base: str, ids: dict[str, str], pcs: int, server: Server) -> dict:
    tokens = [await app_token(base, ids["app"], f"bench{n:02d}") for n in range(APP_PEOPLE)]
    idle_rss = rss_mb(server)
    limits = httpx.Limits(max_connections=32)
    pages = [Pc(n) for n in range(pcs)]
    waiting: list[asyncio.Task[None]] = []
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=base, limits=limits) as http:
        queue = list(pages)

        async def opener() -> None:
            while queue:
                pc = queue.pop()
                await pc.open(http, ids["web"])
                waiting.append(asyncio.create_task(pc.wait(PORT)))

        await asyncio.gather(*(opener() for _ in range(32)))
        opened_in = time.perf_counter() - started
        await asyncio.sleep(2)
        held = sum(1 for pc in pages if pc.state == "waiting")
        rss = rss_mb(server)
        latencies = []
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
        for task in waiting:
            task.cancel()
    latencies.sort()
    return {
        "scenario": "scan_wait",
        "pcs": pcs,
        "opened_in_s": round(opened_in, 1),
        "waiting_when_measured": held,
        "rss_idle_mb": idle_rss,
        "rss_waiting_mb": rss,
        "confirmations": len(latencies),
        "missed": missed,
        "confirm_to_page_p50_ms": round(latencies[len(latencies) // 2], 1) if latencies else None,
        "confirm_to_page_p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 1)
        if latencies
        else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pcs", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=6)
    parser.add_argument("--only", default="device_poll,scan_wait")
    options = parser.parse_args()
    # A stopped run still stops its server and drops its database (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    run = now_id()
    work = ROOT / "bench" / "work" / f"mobile-{run}"
    work.mkdir(parents=True, exist_ok=True)
    database = f"yht_bench_mobile_{run}"
    base = f"http://127.0.0.1:{PORT}"
    env = {
        "YIHAOTONG_ISSUER": base,
        "YIHAOTONG_DATA_DIR": str(work / "yihaotong"),
        "YIHAOTONG_DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{database}",
        "YIHAOTONG_REDIS_URL": f"{REDIS}/13",
        "YIHAOTONG_REDIS_PREFIX": f"bench-mobile-{run}:",
        "YIHAOTONG_LOG_LEVEL": "ERROR",
    }
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
