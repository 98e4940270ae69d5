"""SMS-code sign-ins over HTTP, next to the password sign-ins of ``python -m bench`` (the peer
has no SMS sign-in): each sign-in is a send (POST /login/sms/send, the ``log`` sender writing
its outbox) and a verification (POST /login/sms) with the code read from that outbox, as the
person would read it from the phone.

    python -m bench.sms [--seconds 6] [--connections 8] [--signins 6000]

Production shape: PostgreSQL + Redis, ``yihaotong serve --workers 1`` on core 0, the scripted
browsers on core 1. Every sign-in comes from its own browser, forwarded address and number, as
many people at once would: the per-browser, per-address and per-number limits then never
refuse or challenge one. Goal: 500 sign-ins a second per core (server CPU), p99 under 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import signal
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx
import orjson

from bench.procs import Server
from bench.runner import commit, now_id
from bench.sides import ROOT, _psql, _redis_delete, settings_of, standalone

RESULTS = Path(__file__).parent / "results"
PORT = 9312
CALLBACK = "http://127.0.0.1:9/web"
GOAL_PER_CORE = 500
P99_LIMIT_MS = 50.0


def settings_env(env: dict[str, str]) -> dict[str, str]:
    return {
        k.removeprefix("YIHAOTONG_").lower(): v
        for k, v in env.items()
        if k.startswith("YIHAOTONG_")
    }


async def provision(env: dict[str, str], count: int) -> tuple[str, list[str]]:
    """The web app, and ``count`` numbers that already have an account (sign-ins, not
    registrations: the common case on a working morning)."""
    from gateway.server.services import initialize, open_services
    from gateway.server.settings import Settings

    settings = Settings(**settings_of(env))
    await initialize(settings)
    services = await open_services(settings)
    try:
        web = await services.clients.register(name="Web", redirect_uris=[CALLBACK])
        phones = [f"139{n:08d}" for n in secrets.SystemRandom().sample(range(10**8), count)]
        for phone in phones:
            await services.phone_accounts.register(phone, {})
    finally:
        await services.close()
    return web.client.client_id, phones


class Outbox:
    """The ``log`` sender's outbox, followed as it grows: the code each number was sent."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._offset = path.stat().st_size if path.exists() else 0
        self._waiting: dict[str, asyncio.Future[str]] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._follow())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    def code_for(self, phone: str) -> asyncio.Future[str]:
        future = asyncio.get_running_loop().create_future()
        self._waiting[phone] = future
        return future

    async def _follow(self) -> None:
        while True:
            await asyncio.sleep(0.002)
            if not self._path.exists():
                continue
            with self._path.open("rb") as file:
                file.seek(self._offset)
                chunk = file.read()
            complete = chunk[: chunk.rfind(b"\n") + 1]
            self._offset += len(complete)
            for line in complete.splitlines():
                record = orjson.loads(line)
                future = self._waiting.pop(record["phone"], None)
                if future is not None and not future.done():
                    future.set_result(record["code"])


class Person:
    """One sign-in: a browser with a transaction, an address and a number."""

    def __init__(self, n: int, phone: str) -> None:
        self.cookie = f"yht_browser={secrets.token_urlsafe(24)}"
        self.address = f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"
        self.phone = phone
        self.tx = self.csrf = ""

    async def open(self, http: httpx.AsyncClient, web: str) -> None:
        query = urlencode({"client_id": web, "response_type": "code", "scope": "openid",
                           "redirect_uri": CALLBACK, "state": "s"})  # fmt: skip
        headers = {"Cookie": self.cookie}
        started = await http.get(f"/oauth/authorize?{query}", headers=headers)
        self.tx = started.headers["location"].split("tx=")[1]
        page = await http.get(f"/login/sms?tx={self.tx}", headers=headers)
        form = re.search(r'<form[^>]*action="/login/sms/send".*?</form>', page.text, re.S)
        found = re.search(r'name="csrf_token" value="([^"]+)"', form.group(0) if form else "")
        if found is None:
            raise RuntimeError(f"no SMS form on the sign-in page ({page.status_code})")
        self.csrf = found.group(1)


async def drive(
    base: str, web: str, phones: list[str], outbox: Outbox, seconds: float, connections: int,
    server: Server,
) -> dict:  # fmt: skip
    limits = httpx.Limits(max_connections=connections * 2)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as http:
        people = [Person(n, phone) for n, phone in enumerate(phones)]
        queue = list(people)

        async def opener() -> None:
            while queue:
                await queue.pop().open(http, web)

        await asyncio.gather(*(opener() for _ in range(connections)))
        ready = list(reversed(people))
        latencies: list[float] = []
        outcomes: dict[str, int] = {}
        stop_at = 0.0

        async def one(person: Person) -> None:
            headers = {"Cookie": person.cookie, "X-Forwarded-For": person.address}
            fields = {"tx": person.tx, "csrf_token": person.csrf, "phone": person.phone}
            code = outbox.code_for(person.phone)
            began = time.perf_counter()
            sent = await http.post("/login/sms/send", data=fields, headers=headers)
            latencies.append((time.perf_counter() - began) * 1000)
            if sent.status_code != 200:
                outcomes[f"send {sent.status_code}"] = (
                    outcomes.get(f"send {sent.status_code}", 0) + 1
                )
                return
            fields |= {"code": await asyncio.wait_for(code, 10), "agree": "yes"}
            began = time.perf_counter()
            verified = await http.post("/login/sms", data=fields, headers=headers)
            latencies.append((time.perf_counter() - began) * 1000)
            key = "signed in" if verified.status_code == 303 else f"verify {verified.status_code}"
            outcomes[key] = outcomes.get(key, 0) + 1

        async def browser() -> None:
            while ready and time.perf_counter() < stop_at:
                await one(ready.pop())

        # Warm-up (pools, caches), then the measured run.
        stop_at = time.perf_counter() + 1
        await asyncio.gather(*(browser() for _ in range(connections)))
        latencies.clear()
        outcomes.clear()
        cpu = server.cpu_seconds()
        began = time.perf_counter()
        stop_at = began + seconds
        await asyncio.gather(*(browser() for _ in range(connections)))
        wall = time.perf_counter() - began
        cpu = server.cpu_seconds() - cpu
    latencies.sort()
    signed_in = outcomes.get("signed in", 0)
    return {
        "scenario": "sms_login",
        "connections": connections,
        "signins": signed_in,
        "outcomes": outcomes,
        "ran_out_of_numbers": not ready,
        "signins_per_s": round(signed_in / wall, 1),
        "server_cpu_s": round(cpu, 2),
        "signins_per_core_second": round(signed_in / cpu, 1) if cpu else None,
        "server_cpu_ms_per_signin": round(cpu * 1000 / signed_in, 2) if signed_in else None,
        "request_p50_ms": round(latencies[len(latencies) // 2], 1) if latencies else None,
        "request_p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 1)
        if latencies
        else None,
    }


def run(seconds: float, connections: int, signins: int) -> dict:
    """Provision, serve on core 0, drive from core 1, clean up; the result."""
    run_id = now_id()
    work, database, base, env = standalone("sms", PORT, run_id)
    env |= {
        "YIHAOTONG_SMS_BACKEND": "log",
        "YIHAOTONG_FORWARDED_ALLOW_IPS": "127.0.0.1",
    }
    _psql(f'CREATE DATABASE "{database}"')
    server = None
    affinity = os.sched_getaffinity(0)
    try:
        web, phones = asyncio.run(provision(env, signins))
        command = [sys.executable, "-c", "from gateway.cli import main; main()", "serve",
                   "--host", "127.0.0.1", "--port", str(PORT), "--workers", "1"]  # fmt: skip
        log = work / "yihaotong.log"
        server = Server(command, cpus="0", env={**os.environ, **env}, log=log,
                        ready_url=base + "/healthz", cwd=ROOT)  # fmt: skip
        if len(affinity) > 1:
            os.sched_setaffinity(0, {1})  # the browsers off the server's core

        async def measured() -> dict:
            outbox = Outbox(work / "yihaotong" / "sms-outbox.jsonl")
            outbox.start()
            try:
                return await drive(base, web, phones, outbox, seconds, connections, server)
            finally:
                await outbox.stop()

        return asyncio.run(measured())
    finally:
        os.sched_setaffinity(0, affinity)
        if server is not None:
            server.stop()
        _psql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        _redis_delete(13, env["YIHAOTONG_REDIS_PREFIX"])


def targets(result: dict) -> list[dict]:
    per_core, p99 = result["signins_per_core_second"], result["request_p99_ms"]
    return [
        {
            "target": f"SMS sign-ins >= {GOAL_PER_CORE}/s per core",
            "value": per_core,
            "met": per_core is not None and per_core >= GOAL_PER_CORE,
        },
        {
            "target": f"SMS sign-in requests p99 < {P99_LIMIT_MS:g} ms",
            "value": p99,
            "met": p99 is not None and p99 < P99_LIMIT_MS,
        },
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=6)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--signins", type=int, default=6000, help="numbers provisioned")
    options = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # still cleans up
    result = run(options.seconds, options.connections, options.signins)
    document = {"commit": commit(), "result": result, "targets": targets(result)}
    out = RESULTS / f"sms-{now_id()}-{commit()}.json"
    out.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(document, indent=2, ensure_ascii=False))
    print(f"results: {out}")


if __name__ == "__main__":
    main()
