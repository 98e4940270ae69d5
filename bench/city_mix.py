"""The morning mix of ``python -m bench --city``: its shares, and the pools its requests draw
from, prepared before the timed part and carried from one wrk run to the next (``lua/city.lua``).
docs/scaling.md ("The city's morning") says why these shares.
"""

from __future__ import annotations

import asyncio
import math
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import httpx

from bench import wrk
from bench.city_seed import Seeded
from bench.sides import CHALLENGE, REDIRECT_URI, VERIFIER, basic, login_bodies

# The order is city.lua's: a, c, r, u, i, l.
MIX = {
    "authorize": 15,  # a visit to an app in a live SSO session: a code
    "code": 15,  # the app exchanges that code
    "refresh": 25,  # the city's mobile app refreshes its tokens as it opens
    "userinfo": 27,  # apps read the person's profile
    "introspection": 15,  # department APIs check the tokens they are sent
    "sign_in": 3,  # a password sign-in: the day's first visit, no session yet
}
KINDS = dict(zip("acruil", MIX, strict=True))
THREADS = 2  # wrk's


async def prepare_tokens(base: str, seeded: Seeded, count: int) -> list[tuple[int, str, str]]:
    """``count`` app sign-ins in seeded sessions, each code exchanged: (app, refresh token,
    access token), the app numbered from 1 as city.lua numbers them."""
    gate = asyncio.Semaphore(8)

    async def one(http: httpx.AsyncClient, n: int) -> tuple[int, str, str]:
        app = 1 + n % len(seeded.apps)
        client_id, secret = seeded.apps[app - 1]
        query = urlencode(
            {"client_id": client_id, "response_type": "code", "scope": "openid profile",
             "redirect_uri": REDIRECT_URI, "state": "s", "code_challenge": CHALLENGE,
             "code_challenge_method": "S256"}
        )  # fmt: skip
        cookie = seeded.cookies[n * 7 % len(seeded.cookies)]
        async with gate:
            visit = await http.get(
                f"/oauth/authorize?{query}", headers={"Cookie": f"yht_session={cookie}"}
            )
            code = parse_qs(urlsplit(visit.headers["location"]).query)["code"][0]
            answer = await http.post(
                "/oauth/token",
                data={"grant_type": "authorization_code", "code": code,
                      "redirect_uri": REDIRECT_URI, "code_verifier": VERIFIER},
                headers={"Authorization": basic(client_id, secret)},
            )  # fmt: skip
        answer.raise_for_status()
        tokens = answer.json()
        return app, tokens["refresh_token"], tokens["access_token"]

    async with httpx.AsyncClient(base_url=base, timeout=120) as http:
        return list(await asyncio.gather(*(one(http, n) for n in range(count))))


class Pools:
    """The files city.lua reads: apps, APIs, session cookies, and per wrk thread the refresh
    tokens to rotate, access tokens to present and sign-in form posts."""

    def __init__(
        self, folder: Path, data_dir: Path, seeded: Seeded, made: list[tuple[int, str, str]]
    ) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.data_dir = data_dir
        self.seeded = seeded
        self.browser = "city" + secrets.token_hex(12)
        self.apps = folder / "apps"
        self.apps.write_text(
            "".join(f"{client} {basic(client, secret)}\n" for client, secret in seeded.apps)
        )
        self.apis = folder / "apis"
        self.apis.write_text("".join(f"{basic(client, key)}\n" for client, key in seeded.apis))
        self.cookies = folder / "cookies"
        self.cookies.write_text("".join(f"yht_session={c}\n" for c in seeded.cookies))
        self.refresh = [[f"{app} {rt}" for app, rt, _ in made[t::THREADS]] for t in range(THREADS)]
        self._write_refresh()
        wrk.split_lines([at for _, _, at in made], folder / "access", THREADS)

    def _write_refresh(self) -> None:
        for t, tokens in enumerate(self.refresh, start=1):
            (self.folder / f"refresh.{t}").write_text("".join(f"{line}\n" for line in tokens))

    def prepare_logins(self, base: str, count: int, wrk_cpus: str | None) -> int:
        """Sign-in transactions of one browser without a session (each an authorization
        request), and the form posts that sign in with them."""
        out = self.folder / "tx"
        client = self.seeded.apps[0][0]
        query = urlencode(
            {"client_id": client, "response_type": "code", "scope": "openid profile",
             "redirect_uri": REDIRECT_URI, "state": "s"}
        )  # fmt: skip
        request = wrk.Request(
            "GET", f"/oauth/authorize?{query}", headers={"Cookie": f"yht_browser={self.browser}"},
            capture="location:tx", out=out, capture_limit=math.ceil(count / THREADS),
            stop_after_capture=True,
        )  # fmt: skip
        # Each thread stops at its share; the duration only bounds a slow server.
        seconds = min(60.0, 3 + count / 20)
        wrk.run(
            base, request, self.folder / "tx.conf", duration=seconds, connections=4, cpus=wrk_cpus
        )
        bodies = login_bodies(
            self.data_dir, self.browser, wrk.read_lines(out, THREADS), self.seeded.signers
        )
        wrk.split_lines(bodies, self.folder / "logins", THREADS)
        return len(bodies)

    def absorb(self) -> None:
        """The refresh tokens still unused after a run: those it started with or was issued,
        less those it sent (a token sent whose answer was lost is spent all the same)."""
        for t in range(THREADS):
            issued = self.folder / f"issued.{t + 1}"
            lines = issued.read_text().splitlines() if issued.exists() else []
            used = {line[2:] for line in lines if line.startswith("U ")}
            new = [line[2:] for line in lines if line.startswith("R ")]
            self.refresh[t] = [
                line for line in self.refresh[t] + new if line.split(" ", 1)[1] not in used
            ]
        self._write_refresh()


def write_conf(path: Path, pools: Pools, weights: dict[str, int] = MIX) -> Path:
    folder = pools.folder
    lines = [
        "weights=" + ",".join(str(weights[k]) for k in MIX),
        f"apps={pools.apps}",
        f"apis={pools.apis}",
        f"cookies={pools.cookies}",
        f"refresh={folder / 'refresh'}",
        f"access={folder / 'access'}",
        f"logins={folder / 'logins'}",
        f"issued={folder / 'issued'}",
        f"browser={pools.browser}",
        f"redirect_uri_q={quote(REDIRECT_URI, safe='')}",
        f"challenge={CHALLENGE}",
        f"verifier={VERIFIER}",
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def step_line(result: dict[str, Any]) -> str:
    kinds = ", ".join(
        f"{KINDS[k]} {v['ok']}" + (f" ({v['failed']} failed)" if v["failed"] else "")
        for k, v in result["kinds"].items()
    )
    cpu = result["server_cpu_ms_per_request"] or 0
    return (
        f"  w{result['workers']} c{result['connections']:<3} {result['rps']:8.1f} req/s  "
        f"p50 {result['p50_ms']:6.1f} ms  p99 {result['p99_ms']:6.1f} ms  cpu {cpu:.3f} ms/req"
        f"  [{kinds}]"
    )
