"""``python -m bench``: Yihaotong side by side with panva's oidc-provider, under wrk.

Needs PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379 (as for the tests), wrk, taskset,
Node.js and npm. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from bench import report
from bench.runner import SCENARIOS, Options, Runner, commit, machine, now_id
from bench.sides import Peer, Yihaotong

HERE = Path(__file__).resolve().parent


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: 2 s a scenario, 1 worker"
    )
    parser.add_argument("--workers", default=None, help="comma-separated worker counts (1,2)")
    parser.add_argument("--duration", type=float, default=None, help="seconds a measurement (6)")
    parser.add_argument("--repeat", type=int, default=1, help="measurements a scenario (median)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--only", default=None, help="comma-separated scenarios")
    parser.add_argument("--side", choices=["both", "yihaotong", "peer"], default="both")
    parser.add_argument("--no-logins", action="store_true", help="skip the password sign-ins")
    parser.add_argument(
        "--peer-memory", action="store_true",
        help="one-worker peer on its in-process memory adapter instead of Redis",
    )  # fmt: skip
    parser.add_argument(
        "--access-alg", choices=["RS256", "ES256"], default="RS256",
        help="with --access-format jwt: the code flow's access-token algorithm (ID tokens: RS256)",
    )  # fmt: skip
    parser.add_argument(
        "--access-format", choices=["opaque", "jwt"], default="opaque",
        help="the web app's access tokens (code flow, refresh, userinfo, introspection); the "
        "peer's are opaque",
    )  # fmt: skip
    parser.add_argument("--keep", action="store_true", help="keep the database and work files")
    parser.add_argument("--label", default="", help="added to the results file name")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    for tool in ("wrk", "taskset", "node", "psql"):
        if shutil.which(tool) is None:
            hint = " (apt-get install wrk)" if tool == "wrk" else ""
            print(f"error: {tool} is not installed{hint}", file=sys.stderr)
            return 2
    workers = [int(w) for w in (args.workers or ("1" if args.quick else "1,2")).split(",")]
    options = Options(
        workers=workers,
        duration=args.duration or (2.0 if args.quick else 6.0),
        repeat=args.repeat,
        connections=args.connections,
        sides=["yihaotong", "peer"] if args.side == "both" else [args.side],
        scenarios=args.only.split(",") if args.only else list(SCENARIOS),
        logins=not args.no_logins and (not args.only or "password_login" in args.only),
        peer_redis_single=not args.peer_memory,
        access_alg=args.access_alg,
    )
    run_id = now_id()
    work = HERE / "work" / run_id
    work.mkdir(parents=True)
    started = time.monotonic()
    info = {"date": time.strftime("%Y-%m-%d %H:%M:%S %z"), "commit": commit(), **machine()}
    load = ", ".join(f"{n:.2f}" for n in info["loadavg_at_start"])
    print(f"bench {run_id}: commit {info['commit']}, {info['cpus']} cpus, load {load}")
    yihaotong = Yihaotong(
        work, options.yihaotong_port, run_id.replace("-", "_"), args.access_format
    )
    peer = Peer(work, options.peer_port, run_id)
    runner = Runner(options, work)
    logins = None
    try:
        yihaotong.prepare()
        peer.prepare()
        for count in workers:
            print(f"workers={count}")
            runner.run_workers(
                yihaotong if "yihaotong" in options.sides else None,
                peer if "peer" in options.sides else None,
                count,
            )
        if options.logins and "yihaotong" in options.sides:
            print("password sign-ins")
            logins = runner.logins(yihaotong)
    finally:
        yihaotong.stop()
        peer.stop()
        if not args.keep:
            yihaotong.cleanup()
            peer.cleanup()
            shutil.rmtree(work, ignore_errors=True)
    rows = report.ratios(runner.results, workers)
    checks = report.targets(rows, logins)
    elapsed = round(time.monotonic() - started, 1)
    document = {
        **info,
        "elapsed_s": elapsed,
        "options": {
            "workers": workers,
            "duration_s": options.duration,
            "repeat": options.repeat,
            "connections": options.connections,
            "peer_adapter_one_worker": "redis" if options.peer_redis_single else "memory",
            "quick": args.quick,
            "access_token_alg": options.access_alg,
            "access_token_format": args.access_format,
        },
        "backing_services_on_wrk_core": runner.backing_moved,
        "results": runner.results,
        "comparison": [
            {"workers": r["workers"], "scenario": r["scenario"], "ratio": r["ratio"]} for r in rows
        ],
        "password_logins": logins,
        "targets": checks,
    }
    name = f"{run_id}-{info['commit']}{'-quick' if args.quick else ''}{args.label}.json"
    out = HERE / "results" / name
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    print()
    print(report.table(rows))
    print()
    print(report.target_lines(checks))
    print(f"\n{elapsed} s; results in {out.relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
