"""``python -m bench --city [--scale S]``: a city's morning rush on one and two workers.

Seeds a city (``city_seed``: 1,000,000 accounts, 100,000 live SSO sessions, 2,000 apps at scale
1.0) in a PostgreSQL database of its own (``yh_city_bench``, made again at each run) and Redis
database 12 under a prefix of the run's own, then drives ``yihaotong serve --workers N`` with the
mix of ``MIX`` (docs/scaling.md says why these shares) through wrk and ``lua/city.lua``, stepping
up the connections until the p99 passes 100 ms. Reports the highest rate under that p99 per
core, Redis memory per live session and database growth per million sign-ins.
Results go to bench/results/city-<run>-<commit>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg

from bench import city_seed, procs, wrk
from bench.city_mix import MIX, Pools, prepare_tokens, step_line, write_conf
from bench.console_seed import SERVER
from bench.runner import commit, cpus_for, machine, now_id
from bench.sides import REDIS, ROOT, _redis_delete

HERE = Path(__file__).resolve().parent
LUA = HERE / "lua" / "city.lua"
P99_LIMIT_MS = 100.0
REDIS_DB = 12


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench --city", description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="0.01: a quick check")
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    parser.add_argument("--duration", type=float, default=8.0, help="seconds a step")
    parser.add_argument("--steps", default="2,4,8,16,32,64", help="connections, step by step")
    parser.add_argument("--database", default="yh_city_bench")
    parser.add_argument("--port", type=int, default=9320)
    parser.add_argument("--keep", action="store_true", help="keep the database, keys and files")
    parser.add_argument("--label", default="", help="added to the results file name")
    parser.add_argument("--mix", default="", help="weights a,c,r,u,i,l instead of the morning's")
    parser.add_argument(
        "--no-pin", action="store_true",
        help="leave the server, wrk, PostgreSQL and Redis where the kernel puts them",
    )  # fmt: skip
    parser.add_argument("--out", default=None, help="the results file (bench/results/... )")
    return parser.parse_args(argv)


async def relation_sizes(database: str) -> dict[str, int]:
    """Every table's size with its indexes and TOAST (pg_total_relation_size)."""
    db = await asyncpg.connect(f"{SERVER}/{database}")
    try:
        rows = await db.fetch(
            "SELECT c.relname, pg_total_relation_size(c.oid) AS bytes FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind = 'r'"
        )
        return {row["relname"]: row["bytes"] for row in rows}
    finally:
        await db.close()


async def seeded_counts(database: str, redis_url: str, prefix: str) -> dict[str, int]:
    db = await asyncpg.connect(f"{SERVER}/{database}")
    try:
        accounts = await db.fetchval("SELECT count(*) FROM accounts")
        apps = await db.fetchval("SELECT count(*) FROM clients WHERE name LIKE '城市应用 %'")
        apis = await db.fetchval("SELECT count(*) FROM clients WHERE resource_server")
        departments = await db.fetchval("SELECT count(*) FROM departments")
    finally:
        await db.close()
    sessions = await city_seed.count_sessions(redis_url, prefix)
    return {"accounts": accounts, "departments": departments, "apps": apps, "apis": apis,
            "live_sessions": sessions}  # fmt: skip


class CityRun:
    def __init__(self, args: argparse.Namespace, work: Path, env: dict[str, str]) -> None:
        self.args = args
        self.work = work
        self.env = env
        self.base = env["YIHAOTONG_ISSUER"]
        self.weights = MIX
        if args.mix:
            self.weights = dict(zip(MIX, (int(w) for w in args.mix.split(",")), strict=True))

    def workers(self, count: int, seeded: city_seed.Seeded) -> dict[str, Any]:
        cpus, wrk_cpus = (None, None) if self.args.no_pin else cpus_for(count)
        with procs.backing_services_on(wrk_cpus if count == 1 else None) as moved:
            before = asyncio.run(relation_sizes(self.args.database))
            started = time.monotonic()
            server = procs.Server(
                [sys.executable, "-c", "from gateway.cli import main; main()", "serve",
                 "--host", "127.0.0.1", "--port", str(self.args.port), "--workers", str(count)],
                cpus=cpus, env={**os.environ, **self.env}, log=self.work / f"serve-{count}.log",
                ready_url=self.base + "/healthz", cwd=ROOT, ready_within=300,
            )  # fmt: skip
            print(f"  w{count}: serving after {time.monotonic() - started:.1f} s", flush=True)
            try:
                steps, prepared = self._steps(count, seeded, server, wrk_cpus)
            finally:
                server.stop()
            after = asyncio.run(relation_sizes(self.args.database))
        return summarize(count, steps, prepared, before, after, moved)

    def _steps(
        self, count: int, seeded: city_seed.Seeded, server: procs.Server, wrk_cpus: str | None
    ) -> tuple[list[dict[str, Any]], int]:
        connections = [int(c) for c in self.args.steps.split(",")]
        started = time.monotonic()
        made = asyncio.run(prepare_tokens(self.base, seeded, max(64, 4 * max(connections))))
        pools = Pools(self.work / f"w{count}", Path(self.env["YIHAOTONG_DATA_DIR"]), seeded, made)
        print(
            f"  w{count}: {len(made)} app sign-ins made the first tokens in "
            f"{time.monotonic() - started:.1f} s",
            flush=True,
        )
        steps: list[dict[str, Any]] = []
        estimate = 150.0
        self._run(pools, 4, 3.0, estimate, server, wrk_cpus)  # warm-up (pools, caches)
        # Every step is run: on a shared machine the p99 does not grow steadily with load.
        for conns in connections:
            result = self._run(pools, conns, self.args.duration, estimate, server, wrk_cpus)
            result["workers"] = count
            steps.append(result)
            print(step_line(result), flush=True)
            estimate = max(estimate, result["rps"])
        return steps, len(made)

    def _run(
        self, pools: Pools, conns: int, duration: float, estimate: float,
        server: procs.Server, wrk_cpus: str | None,
    ) -> dict[str, Any]:  # fmt: skip
        share = self.weights["sign_in"] / sum(self.weights.values())
        wanted = int(estimate * 1.5 * duration * share) + 10
        started = time.monotonic()
        pools.prepare_logins(self.base, wanted, wrk_cpus)
        print(f"    {wanted} sign-in forms in {time.monotonic() - started:.1f} s", flush=True)
        conf = write_conf(self.work / "city.conf", pools, self.weights)
        cpu = server.cpu_seconds()
        retransmits = wrk.tcp_retransmits()
        data = wrk.run_script(
            self.base, LUA, conf, duration=duration, connections=conns, cpus=wrk_cpus,
            threads=min(2, conns),
        )  # fmt: skip
        cpu = server.cpu_seconds() - cpu
        after = wrk.tcp_retransmits()
        pools.absorb()
        answered = sum(k["ok"] + k["failed"] for k in data["kinds"].values())
        window = data["window_s"] or duration
        errors = data["errors"]
        return {
            "connections": conns,
            "rps": round(answered / window, 1),
            "p50_ms": data["latency_us"]["p50"] / 1000,
            "p99_ms": data["latency_us"]["p99"] / 1000,
            "answered": answered,
            "failed": sum(k["failed"] for k in data["kinds"].values()),
            "socket_errors": errors["connect"] + errors["read"] + errors["write"]
            + errors["timeout"],
            "server_cpu_s": round(cpu, 2),
            "server_cpu_ms_per_request": round(cpu / answered * 1000, 3) if answered else None,
            "tcp_retransmits": None if retransmits is None or after is None
            else after - retransmits,
            "kinds": data["kinds"],
            "first_failure": data["first_failure"],
            "window_s": round(window, 2),
        }  # fmt: skip


def summarize(
    workers: int,
    steps: list[dict[str, Any]],
    prepared: int,
    before: dict[str, int],
    after: dict[str, int],
    moved: int,
) -> dict[str, Any]:
    """The best step under the p99 limit, per core, and the database's growth per sign-in."""
    under = [s for s in steps if s["p99_ms"] < P99_LIMIT_MS]
    best = max(under, key=lambda s: s["rps"]) if under else None
    sign_ins = prepared + sum(s["kinds"]["a"]["ok"] + s["kinds"]["l"]["ok"] for s in steps)
    grown = {t: after.get(t, 0) - before.get(t, 0) for t in after}
    growth = sum(grown.values())
    return {
        "workers": workers,
        "steps": steps,
        "best": best,
        "per_core_rps": round(best["rps"] / workers, 1) if best else None,
        "rps_per_server_cpu_s": (
            round(1000 / best["server_cpu_ms_per_request"], 1)
            if best and best["server_cpu_ms_per_request"]
            else None
        ),
        "sign_ins": sign_ins,
        "database_growth_bytes": growth,
        "database_growth_per_million_sign_ins_mb": (
            round(growth / sign_ins * 1e6 / 2**20, 1) if sign_ins else None
        ),
        "database_growth_by_table": {
            t: g for t, g in sorted(grown.items(), key=lambda i: -i[1]) if g
        },
        "backing_services_on_wrk_core": moved,
    }


def table(runs: list[dict[str, Any]]) -> str:
    lines = [
        "| workers | connections | req/s | req/s a core | p50 ms | p99 ms | CPU ms/req | failed |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        for s in r["steps"]:
            mark = " **" if s is r["best"] else ""
            lines.append(
                f"| {r['workers']} | {s['connections']} | {s['rps']:.0f}{mark} "
                f"| {s['rps'] / r['workers']:.0f} | {s['p50_ms']:.1f} | {s['p99_ms']:.1f} "
                f"| {s['server_cpu_ms_per_request'] or 0:.3f} | {s['failed']} |"
            )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Seed, measure at each worker count, clean up; the results document."""
    run_id = now_id()
    work = HERE / "work" / f"city-{run_id}"
    work.mkdir(parents=True)
    prefix = f"city-{run_id}:"
    redis_url = f"{REDIS}/{REDIS_DB}"
    env = city_seed.env_for(
        args.database, work / "yihaotong", redis_url, prefix, f"http://127.0.0.1:{args.port}"
    )
    city = city_seed.City.at(args.scale)
    info = {"date": time.strftime("%Y-%m-%d %H:%M:%S %z"), "commit": commit(), **machine()}
    print(f"city {run_id}: scale {args.scale}, {city}, load {info['loadavg_at_start']}")
    started = time.monotonic()
    runs: list[dict[str, Any]] = []
    try:
        people_s = asyncio.run(city_seed.seed_people(args.database, work / "yihaotong", city))
        seeded = asyncio.run(city_seed.seed_services(env, city))
        counts = asyncio.run(seeded_counts(args.database, redis_url, prefix))
        seeding = {"people_s": round(people_s, 1)}
        seeding |= {k: round(v, 1) for k, v in seeded.seconds.items()}
        print(f"  seeded {counts} in {seeding}", flush=True)
        city_run = CityRun(args, work, env)
        for count in [int(w) for w in args.workers.split(",")]:
            runs.append(city_run.workers(count, seeded))
        db_bytes = sum(asyncio.run(relation_sizes(args.database)).values())
    finally:
        if not args.keep:
            asyncio.run(_drop(args.database))
            _redis_delete(REDIS_DB, prefix)
            shutil.rmtree(work, ignore_errors=True)
    document = {
        **info,
        "elapsed_s": round(time.monotonic() - started, 1),
        "loadavg_at_end": os.getloadavg(),
        "scale": args.scale,
        "city": city.__dict__,
        "seeded": counts,
        "seeding_s": seeding,
        "mix": MIX,
        "p99_limit_ms": P99_LIMIT_MS,
        "redis_bytes_per_session_used_memory": round(seeded.redis_bytes_per_session or 0, 1),
        "redis_bytes_per_session_sampled": round(seeded.sampled_bytes_per_session, 1),
        "database_bytes_at_end": db_bytes,
        "runs": runs,
        "run_id": run_id,
    }
    return document


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            print(f"error: {tool} is not installed", file=sys.stderr)
            return 2
    document = run(args)
    runs = document["runs"]
    name = f"city-{document['run_id']}-{document['commit']}{args.label}.json"
    out = Path(args.out) if args.out else HERE / "results" / name
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    print()
    print(table(runs))
    print()
    for r in runs:
        print(
            f"- workers {r['workers']}: {r['per_core_rps']} req/s a core at p99 < "
            f"{P99_LIMIT_MS:g} ms; {r['rps_per_server_cpu_s']} req/s a CPU-second; database "
            f"{r['database_growth_per_million_sign_ins_mb']} MB per million sign-ins"
        )
    print(
        f"- Redis per live session: {document['redis_bytes_per_session_sampled']} bytes "
        f"(MEMORY USAGE), {document['redis_bytes_per_session_used_memory']} (used_memory)"
    )
    print(f"\n{document['elapsed_s']} s; results in {out}")
    return 0


async def _drop(database: str) -> None:
    admin = await asyncpg.connect(f"{SERVER}/postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        await admin.close()


if __name__ == "__main__":
    sys.exit(main())
