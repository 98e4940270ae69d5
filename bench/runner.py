"""One bench run: both servers, every scenario, at each worker count; then password sign-ins."""

from __future__ import annotations

import json
import math
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import procs, wrk
from bench.sides import ROOT, Peer, Side, Yihaotong
from bench.wrk import Request

SCENARIOS = [
    "discovery",
    "jwks",
    "client_credentials_rs256",
    "client_credentials_es256",
    "authorization_code",
    "refresh_token",
    "userinfo",
    "introspection",
    "authorize_prompt_none",
]
MINT_SECONDS = 25  # codes live 60 s: minting, warm-up and measurement must fit in that
LOGIN_ROUNDS = 4  # sign-in measurements, each beside a raw argon2id one (ABBA, twice)
TOKEN_SCENARIOS = [
    "client_credentials_rs256",
    "client_credentials_es256",
    "authorization_code",
    "refresh_token",
]


@dataclass
class Options:
    workers: list[int]
    duration: float
    repeat: int
    connections: int
    sides: list[str]
    scenarios: list[str]
    logins: bool
    yihaotong_port: int = 9300
    peer_port: int = 9301
    twin_port: int = 9302  # Yihaotong's second instance (the other signing algorithm first)
    peer_redis_single: bool = True
    access_alg: str = "RS256"  # Yihaotong's first algorithm: it signs access tokens
    log: Any = field(default=print)


def cpus_for(workers: int) -> tuple[str, str | None]:
    """Server cores, wrk cores. One worker: the server on core 0, and wrk, PostgreSQL and Redis
    on core 1 (procs.backing_services_on). More workers: the server on cores 0..N-1, and the
    others wherever the kernel puts them."""
    if workers == 1:
        return "0", "1"
    return ",".join(str(n) for n in range(workers)), None


class Runner:
    def __init__(self, options: Options, work: Path) -> None:
        self.o = options
        self.work = work
        self.results: list[dict[str, Any]] = []
        self._turn = 0  # which side goes first in the next scenario
        # Threads of PostgreSQL and Redis kept on wrk's core, by phase (procs.backing_services_on).
        self.backing_moved: dict[str, int] = {}

    # -- measuring ---------------------------------------------------------------------------

    def _wrk(
        self, side: Side, request: Request, duration: float, wrk_cpus: str | None, **kw: Any
    ) -> wrk.Result:
        conf = self.work / f"wrk-{side.name}.conf"
        kw.setdefault("connections", self.o.connections)
        if request.before is not None:
            request.before(duration)
        server = side.server
        before = server.cpu_seconds() if server else None
        retransmits = wrk.tcp_retransmits()
        result = wrk.run(side.base_url, request, conf, duration=duration, cpus=wrk_cpus, **kw)
        if server and before is not None:
            result.cpu_s = server.cpu_seconds() - before
        after = wrk.tcp_retransmits()
        if retransmits is not None and after is not None:
            result.tcp_retransmits = after - retransmits
        return result

    def _record(
        self, side: Side, workers: int, scenario: str, runs: list[wrk.Result]
    ) -> wrk.Result:
        median = statistics.median_low(sorted(r.rps for r in runs))
        chosen = next(r for r in runs if r.rps == median)
        entry = {
            "side": side.name,
            "workers": workers,
            "scenario": scenario,
            **chosen.as_dict(),
            "rps_runs": [round(r.rps, 1) for r in runs],
        }
        self.results.append(entry)
        problems = ""
        if chosen.failed or chosen.socket_errors:
            problems = f"  ({chosen.failed} failed, {chosen.socket_errors} socket errors)"
        if chosen.tcp_retransmits:
            problems += f"  ({chosen.tcp_retransmits} TCP retransmissions)"
        cpu = chosen.cpu_ms_per_request
        self.o.log(
            f"  {side.name:14} w{workers} {scenario:26} {chosen.rps:9.1f} req/s  "
            f"p50 {chosen.p50_ms:6.2f} ms  p99 {chosen.p99_ms:6.2f} ms  "
            f"cpu {cpu or 0:.3f} ms/req{problems}"
        )
        return chosen

    def _interleaved(
        self, workers: int, scenario: str, requests: list[tuple[Side, Request]]
    ) -> dict[str, wrk.Result]:
        """Each side in turn, the order alternating from one measurement to the next, so that
        the machine's drift over a run (shared vCPUs speed up and slow down by a third within
        minutes) falls on both sides alike instead of on whichever ran later."""
        _, wrk_cpus = cpus_for(workers)
        runs: dict[str, list[wrk.Result]] = {side.name: [] for side, _ in requests}
        for repeat in range(self.o.repeat):
            turn = requests if (repeat + self._turn) % 2 == 0 else requests[::-1]
            for side, request in turn:
                if repeat == 0:
                    self._wrk(side, request, 1, wrk_cpus)  # warm-up (JIT, pools, caches)
                runs[side.name].append(self._wrk(side, request, self.o.duration, wrk_cpus))
        self._turn += 1
        return {
            side.name: self._record(side, workers, scenario, runs[side.name])
            for side, _ in requests
        }

    def _codes(self, side: Side, count: int, wrk_cpus: str | None) -> list[str]:
        """Up to ``count`` fresh codes, minted for at most MINT_SECONDS (codes live 60 s)."""
        out = self.work / f"codes-{side.name}"
        per_thread = math.ceil(count / 2)
        minted = self._wrk(side, side.mint(out, per_thread), MINT_SECONDS, wrk_cpus)
        codes = wrk.read_lines(out, 2)
        self.o.log(
            f"  {side.name:14} minted {len(codes)} codes at {minted.rps:.0f}/s "
            f"(authorize, prompt=none; {minted.failed} failed)"
        )
        if len(codes) < 600:
            raise RuntimeError(f"{side.name}: minted only {len(codes)} codes")
        return codes

    def _code_then_refresh(
        self, side: Side, workers: int, expected_rps: float
    ) -> tuple[wrk.Result, wrk.Result]:
        """Codes are minted just before they are exchanged (they live 60 s); the exchange's
        refresh tokens seed the rotation chain."""
        _, wrk_cpus = cpus_for(workers)
        count = int(expected_rps * (self.o.duration + 1) * 1.3) + 400
        bodies = [side.code_body(code) for code in self._codes(side, count, wrk_cpus)]
        warm, measured = bodies[:300], bodies[300:]
        self._wrk(side, side.exchange(wrk.split_lines(warm, self.work / "warm", 2),
                                      self.work / "rt-warm", 0), 1, wrk_cpus)  # fmt: skip
        refresh_out = self.work / f"refresh-{side.name}"
        exchange = side.exchange(
            wrk.split_lines(measured, self.work / "codes-in", 2), refresh_out, 200
        )
        code_run = self._wrk(side, exchange, self.o.duration, wrk_cpus)
        tokens = wrk.read_lines(refresh_out, 2)
        if len(tokens) < 2 * self.o.connections:
            raise RuntimeError(f"{side.name}: only {len(tokens)} refresh tokens to rotate")
        half = len(tokens) // 2
        chain_warm = side.refresh(wrk.split_lines(tokens[:half], self.work / "rt-w", 2))
        self._wrk(side, chain_warm, 1, wrk_cpus)
        chain = side.refresh(wrk.split_lines(tokens[half:], self.work / "rt-m", 2))
        return code_run, self._wrk(side, chain, self.o.duration, wrk_cpus)

    def _code_and_refresh(self, sides: list[Side], workers: int, rates: dict[str, float]) -> None:
        wanted = {"authorization_code", "refresh_token"} & set(self.o.scenarios)
        if not wanted:
            return
        code_runs: dict[str, list[wrk.Result]] = {side.name: [] for side in sides}
        refresh_runs: dict[str, list[wrk.Result]] = {side.name: [] for side in sides}
        for repeat in range(self.o.repeat):
            for side in sides if (repeat + self._turn) % 2 == 0 else sides[::-1]:
                code_run, refresh_run = self._code_then_refresh(
                    side, workers, rates.get(side.name, 1500.0)
                )
                code_runs[side.name].append(code_run)
                refresh_runs[side.name].append(refresh_run)
        self._turn += 1
        for scenario, runs in (("authorization_code", code_runs), ("refresh_token", refresh_runs)):
            if scenario in wanted:
                for side in sides:
                    self._record(side, workers, scenario, runs[side.name])

    # -- both servers at one worker count ----------------------------------------------------

    def run_workers(self, yihaotong: Yihaotong | None, peer: Peer | None, workers: int) -> None:
        """Both servers up at once, on the same cores (only the one being measured is busy),
        each scenario measured on both before the next (see ``_interleaved``). Yihaotong's
        access tokens are signed with its first algorithm, so a second instance on the same
        database, with the other algorithm first, answers the other client_credentials
        scenario."""
        cpus, wrk_cpus = cpus_for(workers)
        with procs.backing_services_on(wrk_cpus if workers == 1 else None) as moved:
            self.backing_moved[f"w{workers}"] = moved
            self._run_workers(yihaotong, peer, workers, cpus)

    def _run_workers(
        self, yihaotong: Yihaotong | None, peer: Peer | None, workers: int, cpus: str
    ) -> None:
        want = set(self.o.scenarios)
        first = self.o.access_alg
        other = "ES256" if first == "RS256" else "RS256"
        twin = yihaotong.twin(self.o.twin_port) if yihaotong else None
        started: list[Side] = []
        try:
            if yihaotong and twin:
                yihaotong.start(workers, cpus, algs=f"{first},{other}")
                started.append(yihaotong)
                if f"client_credentials_{other.lower()}" in want:
                    twin.start(workers, cpus, algs=f"{other},{first}")
                    started.append(twin)
            if peer:
                peer.start(workers, cpus, redis=workers > 1 or self.o.peer_redis_single)
                started.append(peer)
            sides: list[Side] = [side for side in (yihaotong, peer) if side]
            for side in sides:
                side.sign_in()
            dpop = self._dpop_twin(yihaotong, workers)
            for scenario, path in (("discovery", "discovery_path"), ("jwks", "jwks_path")):
                if scenario in want:
                    requests = [(side, side.get(getattr(side, path))) for side in sides]
                    self._interleaved(workers, scenario, requests)
            rates: dict[str, float] = {}
            for alg in ("RS256", "ES256"):
                scenario = f"client_credentials_{alg.lower()}"
                if scenario not in want:
                    continue
                ours = [] if not yihaotong else [(yihaotong if alg == first else twin, alg)]
                theirs = [] if not peer else [(peer, alg)]
                requests = [(side, side.client_credentials(a)) for side, a in ours + theirs]
                measured = self._interleaved(workers, scenario, requests)  # type: ignore[arg-type]
                if alg == "RS256":
                    rates = {name: result.rps for name, result in measured.items()}
            for scenario in ("userinfo", "introspection", "authorize_prompt_none"):
                if scenario in want:
                    method = "authorize" if scenario == "authorize_prompt_none" else scenario
                    twins = [dpop] if dpop and scenario == "userinfo" else []
                    requests = [(side, getattr(side, method)()) for side in sides + twins]
                    self._interleaved(workers, scenario, requests)
            self._code_and_refresh(sides + ([dpop] if dpop else []), workers, rates)
        finally:
            for side in started:
                side.stop()

    def _dpop_twin(self, yihaotong: Yihaotong | None, workers: int) -> Side | None:
        """The DPoP-bound twin of Yihaotong's refresh and UserInfo (bench/dpop_twin.py), on the
        same server, when either is measured."""
        if yihaotong is None or not {"userinfo", "refresh_token"} & set(self.o.scenarios):
            return None
        from bench.dpop_twin import DPoPTwin

        twin = DPoPTwin(yihaotong, self.work, workers)
        twin.sign_in()
        return twin

    # -- password sign-ins -------------------------------------------------------------------

    def logins(self, yihaotong: Yihaotong) -> dict[str, Any]:
        """Sign-in form posts a second on one core, next to raw argon2id verifications on the
        same core, measured in turn (raw, sign-ins, sign-ins, raw, ...): argon2id is
        memory-bound, and its speed on a shared machine moves by a fifth within minutes, which
        a single measurement of each, one after the other, would read as the gateway's."""
        cpus, wrk_cpus = cpus_for(1)
        with procs.backing_services_on(wrk_cpus) as moved:
            self.backing_moved["logins"] = moved
            return self._logins(yihaotong, cpus, wrk_cpus)

    def _logins(self, yihaotong: Yihaotong, cpus: str, wrk_cpus: str | None) -> dict[str, Any]:
        yihaotong.start(1, cpus)
        try:
            yihaotong.sign_in()
            count = int(40 * (self.o.duration * LOGIN_ROUNDS + 1) * 1.5) + 40
            out = self.work / "tx"
            self._wrk(yihaotong, yihaotong.login_transactions(out, math.ceil(count / 2)), 60,
                      wrk_cpus, connections=8)  # fmt: skip
            bodies = yihaotong.login_bodies(wrk.read_lines(out, 2))
            warm, measured = bodies[:40], bodies[40:]
            login_conns = 8
            self._wrk(yihaotong, yihaotong.login_post(wrk.split_lines(warm, self.work / "lw", 2)),
                      1, wrk_cpus, connections=login_conns)  # fmt: skip
            # The token scenarios leave work behind (PostgreSQL's autovacuum after their
            # inserts, the peer's exit): a raw round measured beside it ran a fifth slower.
            quiet = _wait_for_quiet()
            share = math.ceil(len(measured) / LOGIN_ROUNDS)
            runs: list[wrk.Result] = []
            raws: list[dict[str, Any]] = []
            for n in range(LOGIN_ROUNDS):
                chunk = measured[n * share : (n + 1) * share]
                post = yihaotong.login_post(wrk.split_lines(chunk, self.work / f"lm{n}", 2))

                def raw() -> None:
                    raws.append(_raw_verify(cpus, self.o.duration))

                def login(post: Request = post) -> None:
                    runs.append(
                        self._wrk(
                            yihaotong, post, self.o.duration, wrk_cpus, connections=login_conns
                        )
                    )

                for measure in (raw, login) if n % 2 == 0 else (login, raw):
                    measure()
            self._record(yihaotong, 1, "password_login", runs)
        finally:
            yihaotong.stop()
        argon = {
            **raws[0],
            # Over every raw measurement (each as long as the others): the rate and its cost.
            "verify_per_s": round(statistics.fmean(r["verify_per_s"] for r in raws), 2),
            "ms_per_verify": round(statistics.fmean(r["ms_per_verify"] for r in raws), 2),
            "verify_per_s_runs": [r["verify_per_s"] for r in raws],
        }
        logins_per_s = statistics.fmean(r.rps for r in runs)
        login = next(r for r in self.results if r["scenario"] == "password_login")
        cpu_ms = [r.cpu_ms_per_request for r in runs if r.cpu_ms_per_request]
        summary = {
            "quiet_after_s": quiet,
            "logins_per_s": round(logins_per_s, 1),
            "logins_per_s_runs": [round(r.rps, 1) for r in runs],
            "p50_ms": login["p50_ms"],
            "p99_ms": login["p99_ms"],
            "connections": login_conns,
            "argon2id": argon,
            "share_of_raw_verify": round(logins_per_s / argon["verify_per_s"], 3),
            # Each round's sign-ins against the raw rate measured beside them.
            "share_runs": [
                round(run.rps / raw["verify_per_s"], 3) for run, raw in zip(runs, raws, strict=True)
            ],
            # The same share by CPU time (raw verify ms / server CPU ms per sign-in): what one
            # core would give if nothing else ran on it.
            "share_by_cpu": (
                round(argon["ms_per_verify"] / statistics.fmean(cpu_ms), 3) if cpu_ms else None
            ),
        }
        self.o.log(
            f"  password sign-ins {logins_per_s:.1f}/s on one core; raw argon2id verify "
            f"{argon['verify_per_s']:.1f}/s ({argon['ms_per_verify']} ms): "
            f"{summary['share_of_raw_verify']:.0%} (rounds: "
            + ", ".join(f"{s:.0%}" for s in summary["share_runs"])
            + ")"
        )
        return summary


def _busy_share(seconds: float) -> float:
    """The share of the machine's CPU time that was busy over ``seconds`` (/proc/stat)."""

    def totals() -> tuple[int, int]:
        fields = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + fields[4]  # idle, iowait
        return sum(fields), idle

    total_before, idle_before = totals()
    time.sleep(seconds)
    total_after, idle_after = totals()
    elapsed = total_after - total_before
    return 1 - (idle_after - idle_before) / elapsed if elapsed else 0.0


def _wait_for_quiet(busy_below: float = 0.1, at_most: float = 60) -> float | None:
    """Wait until the machine is idle (under ``busy_below`` of its CPU busy for a second);
    returns the seconds waited, None when it did not quieten within ``at_most``."""
    started = time.monotonic()
    while time.monotonic() - started < at_most:
        if _busy_share(1.0) < busy_below:
            return round(time.monotonic() - started, 1)
    return None


def _raw_verify(cpus: str, seconds: float) -> dict[str, Any]:
    """argon2id verifications a second with the gateway's parameters, in a process of its own on
    ``cpus`` (bench/argon.py)."""
    raw = subprocess.run(
        ["taskset", "-c", cpus, sys.executable, "-m", "bench.argon", str(seconds)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(raw.stdout)


def machine() -> dict[str, Any]:
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    import os

    return {"cpus": os.cpu_count(), "cpu_model": model, "loadavg_at_start": os.getloadavg()}


def commit() -> str:
    found = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    )
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "gateway", "keys", "store", "policies"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    return found.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def now_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S")
