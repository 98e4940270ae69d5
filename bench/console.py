"""``python -m bench.console`` (or ``python -m bench --only console``): the console's pages on a
large city (seed it first with ``python -m bench.console_seed``), one request at a time against
one ``yihaotong serve`` worker, as a city-wide and as a district administrator. The time is
the request's round trip on the loopback: server time plus well under a millisecond. On a busy
machine that is mostly waiting for a core, so each page's CPU time is measured too: the
gateway process's and its PostgreSQL backends' (from /proc), per request.

Goals (issue 23): p95 under 150 ms for every page, under 300 ms for the audit search.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import re
import secrets
import statistics
import subprocess
import sys
import time
import uuid
from html import unescape
from pathlib import Path

import httpx
import pyotp

from bench.console_seed import HERE, SERVER, national_id
from bench.runner import commit, machine, now_id

PASSWORD = "bench console password"  # noqa: S105 - the bench accounts' own
PAGE_GOAL_MS, AUDIT_GOAL_MS = 150.0, 300.0
_HIDDEN = re.compile(r'name="(tx|csrf_token)" value="([^"]*)"')


def account_id(n: int) -> str:
    return str(uuid.UUID(hashlib.md5(f"account{n}".encode(), usedforsecurity=False).hexdigest()))


def phone(n: int) -> str:
    return "1" + ["38", "39", "58", "86", "35"][n % 5] + f"{n * 7919 % 100000000:08d}"


def pages(district: str) -> list[tuple[str, str, str]]:
    """(who, name, path): the pages measured, with values the seed wrote."""
    return [
        ("city", "概览 overview", "/admin/"),
        ("city", "组织机构 top level", "/admin/departments"),
        ("city", "组织机构 a level (10)", "/admin/departments/d7"),
        ("city", "组织机构 a level (49)", "/admin/departments/d7-3"),
        ("city", "组织机构 search", "/admin/departments?q=科技处"),
        ("city", "用户 list", "/admin/accounts"),
        ("city", "用户 by username", "/admin/accounts?q=u0123456"),
        ("city", "用户 by name (many)", "/admin/accounts?q=王伟"),
        ("city", "用户 by name (few)", "/admin/accounts?q=孙秀英海"),
        ("city", "用户 by phone", f"/admin/accounts?q={phone(123456)}"),
        ("city", "用户 by ID number", f"/admin/accounts?q={national_id(12345)}"),
        ("city", "account page", f"/admin/accounts/{account_id(123456)}"),
        ("city", "应用 apps", "/admin/apps"),
        ("city", "审计 first page", "/admin/audit"),
        ("city", "审计 by event", "/admin/audit?event=login.failed"),
        ("city", "审计 by actor", f"/admin/audit?actor={account_id(4242)}"),
        ("city", "审计 by outcome+time", "/admin/audit?outcome=failure&since=2026-11-01"),
        ("district", "组织机构 top level", "/admin/departments"),
        ("district", "用户 list", "/admin/accounts"),
        ("district", "用户 by name", "/admin/accounts?q=王伟"),
        ("district", "account page", f"/admin/accounts/{account_id(district_member(district))}"),
    ]


def district_member(district: str) -> int:
    """Account n sits in leaf n mod 9,800 of the leaves sorted by id: d1's are the first 490."""
    assert district == "d1"
    return 7


async def prepare(settings_env: dict[str, str], tag: str) -> dict[str, str]:
    """Two administrators (city-wide, and of district d1) with authenticator apps."""
    os.environ.update(settings_env)
    from gateway.admin import roles
    from gateway.admin.changes import CLI
    from gateway.server.services import open_services
    from gateway.server.settings import Settings

    services = await open_services(Settings())
    secrets_by_name = {}
    try:
        for who, department in (("city", None), ("district", "d1")):
            username = f"bench-{who}-{tag}"
            account = await services.accounts.create_local(username=username, password=PASSWORD)
            await roles.grant_admin(
                services, CLI, account.id, ["admin:read", "admin:write"], department_id=department
            )
            started = await services.otp.begin(account.id, username)
            assert started is not None
            totp = pyotp.TOTP(started[0])
            assert await services.otp.verify(account.id, totp.now(), confirming=True)
            secrets_by_name[who] = (username, started[0])
    finally:
        await services.close()
    return secrets_by_name


async def sign_in(base: str, username: str, otp_secret: str) -> httpx.AsyncClient:
    http = httpx.AsyncClient(base_url=base, follow_redirects=False, timeout=60)
    answer = await http.get("/admin/login")
    for _ in range(16):
        if answer.status_code in (302, 303, 307, 308):
            answer = await http.get(answer.headers["location"])
            continue
        path = answer.request.url.path
        if answer.status_code != 200 or path.startswith("/admin/"):
            break
        fields = {k: unescape(v) for k, v in reversed(_HIDDEN.findall(answer.text))}
        if path == "/login":
            fields |= {"username": username, "password": PASSWORD}
        elif path == "/login/otp":
            fields |= {"code": pyotp.TOTP(otp_secret).at(time.time() + 30)}
        elif path == "/consent":
            fields |= {"decision": "allow"}
        answer = await http.post(path, data=fields)
    if answer.request.url.path != "/admin/":
        raise RuntimeError(f"{username}: the console sign-in stopped at {answer.request.url}")
    return http


def cpu_ms(pids: list[int]) -> dict[int, float]:
    """User and system CPU time of each process so far, in milliseconds."""
    found = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[pid] = (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")
    return found


def backends(database: str) -> list[int]:
    listed = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-Atc",
         f"SELECT pid FROM pg_stat_activity WHERE datname = '{database}'", "postgres"],  # noqa: S608 - the bench's own option
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return [int(line) for line in listed.stdout.split()]


async def timed(http: httpx.AsyncClient, path: str, count: int) -> tuple[list[float], str]:
    for _ in range(3):  # warm: templates, statement caches
        answer = await http.get(path)
    spent = []
    for _ in range(count):
        started = time.perf_counter()
        answer = await http.get(path)
        spent.append((time.perf_counter() - started) * 1000)
        if answer.status_code != 200:
            raise RuntimeError(f"{path}: {answer.status_code}")
    return spent, answer.text


def summary(spent: list[float]) -> dict[str, float]:
    ordered = sorted(spent)
    return {
        "p50_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(ordered[max(0, round(0.95 * len(ordered)) - 1)], 1),
        "max_ms": round(ordered[-1], 1),
    }


async def measure(
    base: str, admins: dict[str, tuple[str, str]], count: int, server: int, database: str
) -> list[dict]:
    clients = {who: await sign_in(base, *admins[who]) for who in admins}
    results = []

    async def one(who: str, name: str, path: str) -> str:
        pids = [server, *backends(database)]
        before = cpu_ms(pids)
        spent, text = await timed(clients[who], path, count)
        after = cpu_ms([*pids, *backends(database)])
        cpu = sum(after[p] - before.get(p, 0.0) for p in after) / (count + 3)
        results.append(
            {"who": who, "page": name, "path": path, **summary(spent), "cpu_ms": round(cpu, 1)}
        )
        print(
            f"  {who:8} {name:26} p95 {results[-1]['p95_ms']:7.1f} ms, cpu {cpu:6.1f} ms",
            flush=True,
        )
        return text

    try:
        for who, name, path in pages("d1"):
            text = await one(who, name, path)
            cursor = re.search(r'href="(/admin/audit\?[^"]*after=\d+)"', text)
            if name == "审计 first page" and cursor:
                await one(who, "审计 next page", unescape(cursor.group(1)))
    finally:
        for http in clients.values():
            await http.aclose()
    return results


def goal(result: dict) -> float:
    return AUDIT_GOAL_MS if result["page"].startswith("审计") else PAGE_GOAL_MS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.console", description=__doc__)
    parser.add_argument("--database", default="yh_console_bench")
    parser.add_argument("--data-dir", default=str(HERE / "work" / "console"))
    parser.add_argument("--requests", type=int, default=40, help="timed requests a page")
    parser.add_argument("--port", type=int, default=18731)
    parser.add_argument(
        "--yihaotong", default=str(Path(sys.executable).parent / "yihaotong"),
        help="the command that serves (another checkout's, to compare)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    base = f"http://127.0.0.1:{args.port}"
    env = {
        "YIHAOTONG_DATA_DIR": str(Path(args.data_dir).resolve()),
        "YIHAOTONG_DATABASE_URL": f"{SERVER}/{args.database}",
        "YIHAOTONG_ISSUER": base,
        "YIHAOTONG_LOG_LEVEL": "WARNING",
    }
    info = {"date": time.strftime("%Y-%m-%d %H:%M:%S %z"), "commit": commit(), **machine()}
    admins = asyncio.run(prepare(env, secrets.token_hex(3)))
    server = subprocess.Popen(
        [args.yihaotong, "serve", "--port", str(args.port)],
        env={**os.environ, **env},
    )
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        results = asyncio.run(measure(base, admins, args.requests, server.pid, args.database))
    finally:
        server.terminate()
        server.wait(30)
    misses = [r for r in results if r["p95_ms"] >= goal(r)]
    load = ", ".join(f"{n:.2f}" for n in os.getloadavg())
    print(f"load average at the end: {load} (at the start: {info['loadavg_at_start']})")
    document = {
        **info,
        "server": args.yihaotong,
        "requests_a_page": args.requests,
        "results": results,
    }
    out = HERE / "results" / f"{now_id()}-{info['commit']}-console.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    for r in misses:
        print(f"over the goal ({goal(r):.0f} ms): {r['who']} {r['page']} p95 {r['p95_ms']} ms")
    print(f"{len(results) - len(misses)} of {len(results)} pages within their goals; {out}")
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
