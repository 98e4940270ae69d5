"""``python -m bench``: Yihaotong side by side with panva's oidc-provider, under wrk; then CAS
ticket validation beside django-cas-server and the SAML SSO response.

Needs PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379 (as for the tests), wrk, taskset,
Node.js and npm (for the OpenID scenarios). See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from bench import protocols, report, sms
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
    parser.add_argument(
        "--only", default=None, help="comma-separated scenarios (also password_login, cas, saml)"
    )
    parser.add_argument("--side", choices=["both", "yihaotong", "peer"], default="both")
    parser.add_argument("--no-logins", action="store_true", help="skip password and SMS sign-ins")
    parser.add_argument(
        "--no-protocols", action="store_true", help="skip CAS and SAML (bench/protocols.py)"
    )
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
    parser.add_argument(
        "--city", action="store_true",
        help="the city-morning capacity run instead (bench/city.py; its own options follow, "
        "e.g. --scale 0.01)",
    )  # fmt: skip
    return parser.parse_args(argv)


def _openid(
    runner: Runner, options: Options, args: argparse.Namespace, work: Path, run_id: str
) -> tuple[dict | None, dict | None]:
    """The OpenID scenarios beside oidc-provider, then the password and SMS sign-ins."""
    yihaotong = Yihaotong(
        work, options.yihaotong_port, run_id.replace("-", "_"), args.access_format
    )
    peer = Peer(work, options.peer_port, run_id)
    logins = sms_logins = None
    try:
        yihaotong.prepare()
        if "peer" in options.sides:  # npm ci the first time
            peer.prepare()
        for count in options.workers:
            print(f"workers={count}")
            runner.run_workers(
                yihaotong if "yihaotong" in options.sides else None,
                peer if "peer" in options.sides else None,
                count,
            )
        if options.logins and "yihaotong" in options.sides:
            print("password sign-ins")
            logins = runner.logins(yihaotong)
            print("SMS-code sign-ins")
            # Numbers enough for the goal's rate, each used once (one send a minute a number).
            numbers = int((options.duration + 1) * sms.GOAL_PER_CORE * 1.5)
            sms_logins = sms.run(options.duration, 8, numbers)
            print(f"  {sms_logins['signins_per_core_second']}/s per core, "
                  f"p99 {sms_logins['request_p99_ms']} ms")  # fmt: skip
    finally:
        yihaotong.stop()
        peer.stop()
        if not args.keep:
            yihaotong.cleanup()
            peer.cleanup()
            shutil.rmtree(work, ignore_errors=True)
    return logins, sms_logins


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--city" in argv:  # a mixed workload on a seeded city, no peer: options of its own
        from bench import city

        return city.main([a for a in argv if a != "--city"])
    args = parse(argv)
    if args.only == "console":  # the console on a seeded city: no peer, no wrk
        from bench import console

        return console.main([])
    only = args.only.split(",") if args.only else None
    wanted = [] if args.no_protocols else [p for p in protocols.NAMES if not only or p in only]
    oidc = [s for s in only if s not in protocols.NAMES] if only else list(SCENARIOS)
    for tool in ("wrk", "taskset", "psql", *(("node",) if oidc else ())):
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
        scenarios=oidc,
        logins=not args.no_logins and (not only or "password_login" in only),
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
    runner = Runner(options, work)
    logins = sms_logins = None
    if options.scenarios or options.logins:
        logins, sms_logins = _openid(runner, options, args, work, run_id)
    elif not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    protocol_results = protocols.run(wanted, options.duration, args.quick) if wanted else {}
    rows = report.ratios(runner.results, workers)
    dpop_rows = report.dpop_ratios(runner.results, workers)
    checks = report.targets(rows, logins) + (sms.targets(sms_logins) if sms_logins else [])
    checks += report.dpop_targets(dpop_rows)
    checks += protocols.targets(protocol_results)
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
        "dpop_comparison": [
            {k: r[k] for k in ("workers", "scenario", "ratio", "cpu_ratio")} for r in dpop_rows
        ],
        "password_logins": logins,
        "sms_logins": sms_logins,
        "protocols": protocol_results,
        "targets": checks,
    }
    name = f"{run_id}-{info['commit']}{'-quick' if args.quick else ''}{args.label}.json"
    out = HERE / "results" / name
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    if rows:
        print()
        print(report.table(rows))
    if protocol_results:
        print()
        print(protocols.table(protocol_results))
    print()
    if dpop_rows:
        print(report.dpop_table(dpop_rows))
        print()
    print(report.target_lines(checks))
    print(f"\n{elapsed} s; results in {out.relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
