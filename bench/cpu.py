"""CPU time a request, in-process: the gateway's ASGI app on PostgreSQL and Redis, called directly
(no HTTP parser, no client library), so what is measured is the app's own work plus its drivers'.
Steadier than req/s on a shared machine; use it before and after a change.

    python -m bench.cpu [--only client_credentials,userinfo] [-n 2000] [--alg ES256]
                        [--profile SCENARIO] [--log-level INFO] [--round-trips]
                        [--loop uvloop|asyncio] [--phases]

Scenarios: client_credentials, authorize_prompt_none, authorization_code, refresh_token, userinfo,
introspection, password_login (its CPU includes argon2id; the profile shows the rest), sms_login
(a send and a verification, bench/sms_cpu.py), device_poll, device_slow_down, dpop_refresh_token,
dpop_userinfo (bench/mobile_cpu.py), cas_validate (bench/cas_cpu.py), scan_page (a PC's
authorization request and its scan-to-sign-in page with a new ticket and QR code). Lines are
written to /dev/null (fd 2), as a server's stderr would take them. ``--round-trips`` also counts
the database and expiring-store operations a request (each statement, session or command is
one round trip or more), by name. ``--phases`` splits a request's CPU time by phase
(bench/phases.py).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from bench.cas_cpu import CasValidations
from bench.mobile_cpu import MOBILE, MobileScenarios
from bench.sides import (
    LOGIN_USERS,
    PASSWORD,
    REDIRECT_URI,
    REDIS,
    VERIFIER,
    _authorize_query,
    _psql,
    _redis_delete,
    basic,
)

SCENARIOS = [
    "client_credentials",
    "authorize_prompt_none",
    "authorization_code",
    "refresh_token",
    "userinfo",
    "introspection",
    "password_login",
    "sms_login",
    *MOBILE,
    "cas_validate",
    "scan_page",
]
ISSUER = "http://127.0.0.1:9300"


class RoundTrips:
    """Counts calls of the store's operations (our own classes), by name."""

    def __init__(self) -> None:
        import collections

        self.counts: collections.Counter[str] = collections.Counter()
        self.on = False

    def wrap(self, cls: type, names: list[str]) -> None:
        import functools

        for name in names:
            if not hasattr(cls, name):  # an operation of a later commit, measured against
                continue
            original = getattr(cls, name)

            @functools.wraps(original)
            def counted(*args: object, _original=original, _name=name, **kwargs: object):
                if self.on:
                    self.counts[f"{cls.__name__}.{_name}"] += 1
                return _original(*args, **kwargs)

            setattr(cls, name, counted)


class Caller:
    """One ASGI request at a time, as a server would hand it over."""

    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app

    async def __call__(
        self,
        method: str,
        target: str,
        headers: dict[str, str],
        body: bytes = b"",
        client: str = "127.0.0.1",
    ) -> tuple[int, dict[str, str], bytes]:
        path, _, query = target.partition("?")
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]
            + [(b"host", b"127.0.0.1:9300"), (b"content-length", str(len(body)).encode())],
            "client": (client, 40000),
            "server": ("127.0.0.1", 9300),
            "state": {},
        }
        sent = False
        status, answer, chunks = 0, {}, []

        async def receive() -> dict:
            nonlocal sent
            if sent:
                await asyncio.sleep(3600)
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                answer.update({k.decode(): v.decode() for k, v in message["headers"]})
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        return status, answer, b"".join(chunks)


FORM = {"content-type": "application/x-www-form-urlencoded"}


async def sign_in(http: httpx.AsyncClient, web_id: str, user: str) -> str:
    started = await http.get(f"/oauth/authorize?{_authorize_query(web_id)}")
    page = await http.get(started.headers["location"])
    import re

    fields: dict[str, str] = {}
    for name, value in re.findall(r'name="(tx|csrf_token)" value="([^"]+)"', page.text):
        fields.setdefault(name, value)
    posted = await http.post("/login", data={**fields, "username": user, "password": PASSWORD})
    resumed = await http.get(posted.headers["location"])
    return parse_qs(urlsplit(resumed.headers["location"]).query)["code"][0]


async def run(args: argparse.Namespace) -> None:
    run_id = uuid.uuid4().hex[:8]
    database = f"yht_cpu_{run_id}"
    work = Path(tempfile.gettempdir()) / f"yht-cpu-{run_id}"
    os.environ.update(
        {
            "YIHAOTONG_ISSUER": ISSUER,
            "YIHAOTONG_DATA_DIR": str(work),
            "YIHAOTONG_DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{database}",
            "YIHAOTONG_REDIS_URL": f"{REDIS}/13",
            "YIHAOTONG_REDIS_PREFIX": f"cpu-{run_id}:",
            "YIHAOTONG_SIGNING_ALGS": "ES256,RS256" if args.alg == "ES256" else "RS256,ES256",
            "YIHAOTONG_LOG_LEVEL": args.log_level,
            # device_slow_down polls each code twice within this, however slow the machine.
            "YIHAOTONG_DEVICE_POLL_INTERVAL": "60",
            # cas_validate's tickets are all minted before the first is validated.
            "YIHAOTONG_CAS_TICKET_TTL": "300",
        }
    )
    _psql(f'CREATE DATABASE "{database}"')
    try:
        await measure(args)
    finally:
        _psql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        shutil.rmtree(work, ignore_errors=True)


async def measure(args: argparse.Namespace) -> None:
    from bench import provision
    from bench.sms_cpu import SmsSignIns
    from gateway.server.app import create_app
    from gateway.server.logs import configure_logging
    from gateway.server.settings import Settings

    trips = RoundTrips()
    if args.round_trips:
        from store.database import Database
        from store.redis_kv import RedisStore

        trips.wrap(Database, ["sessions", "transaction", "statement", "read", "write"])
        kv = ["get", "issue", "redeem", "release", "settle", "get_many", "put", "put_many", "add"]
        kv += ["add_and_get"]
        kv += ["replace", "take", "delete", "incr", "incr_many", "set_add", "set_remove"]
        kv += ["set_members", "many"]
        trips.wrap(RedisStore, kv)
        # What goes on the wire: one write a command, or a pipeline's commands together.
        from redis.asyncio.connection import AbstractConnection

        trips.wrap(AbstractConnection, ["send_packed_command"])
        from gateway.identity.passwords import Passwords

        trips.wrap(Passwords, ["verify_sync", "hash"])
    from bench.phases import PHASES, Phases

    phases = Phases()
    if args.phases:
        phases.install(list(PHASES))
    made = await provision.main(LOGIN_USERS, PASSWORD, REDIRECT_URI)
    web, cc = made["web"], made["cc"]
    web_auth = basic(web["client_id"], web["client_secret"])
    if "scan_page" in args.only:  # the scan tab is shown only where a mobile app is named
        os.environ["YIHAOTONG_MOBILE_APP_CLIENTS"] = made["app"]["client_id"]
    settings = Settings()
    configure_logging(settings.log_level)
    app = create_app(settings)
    call = Caller(app)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=ISSUER) as http:
            first = await sign_in(http, web["client_id"], made["users"][0])
            cookie = "; ".join(f"{c.name}={c.value}" for c in http.cookies.jar)
            browser = http.cookies["yht_browser"]
        code_body = {
            "grant_type": "authorization_code",
            "redirect_uri": REDIRECT_URI,
            "code_verifier": VERIFIER,
        }
        status, _, body = await call(
            "POST",
            "/oauth/token",
            {**FORM, "authorization": web_auth},
            urlencode({**code_body, "code": first}).encode(),
        )
        import json

        tokens = json.loads(body)
        access, refresh = tokens["access_token"], [tokens["refresh_token"]]
        visit = f"/oauth/authorize?{_authorize_query(web['client_id'], {'prompt': 'none'})}"
        codes: list[str] = []

        async def cc_grant() -> int:
            body = b"grant_type=client_credentials&scope=bench.read"
            headers = {**FORM, "authorization": basic(cc["client_id"], cc["client_secret"])}
            return (await call("POST", "/oauth/token", headers, body))[0]

        async def prompt_none() -> int:
            status, headers, _ = await call("GET", visit, {"cookie": cookie})
            codes.append(parse_qs(urlsplit(headers["location"]).query)["code"][0])
            return status

        async def exchange() -> int:
            body = urlencode({**code_body, "code": codes.pop()}).encode()
            status, _, answer = await call(
                "POST", "/oauth/token", {**FORM, "authorization": web_auth}, body
            )
            if status == 200:  # codes live 60 s: mint fewer (-n) on a slow machine
                refresh.append(json.loads(answer)["refresh_token"])
            return status

        async def refresh_grant() -> int:
            body = urlencode({"grant_type": "refresh_token", "refresh_token": refresh.pop()})
            status, _, answer = await call(
                "POST", "/oauth/token", {**FORM, "authorization": web_auth}, body.encode()
            )
            if status == 200:
                refresh.append(json.loads(answer)["refresh_token"])
            return status

        async def userinfo() -> int:
            headers = {"authorization": f"Bearer {access}"}
            return (await call("GET", "/oauth/userinfo", headers))[0]

        async def introspection() -> int:
            body = urlencode({"token": access}).encode()
            headers = {**FORM, "authorization": web_auth}
            return (await call("POST", "/oauth/introspect", headers, body))[0]

        login_bodies: list[bytes] = []

        async def login() -> int:
            status, _, _ = await call(
                "POST", "/login", {**FORM, "cookie": f"yht_browser={browser}"}, login_bodies.pop()
            )
            return status

        async def prepare_logins(count: int) -> None:
            from gateway.server.csrf import Csrf
            from keys.master import MasterKey

            key = MasterKey.from_file(Path(settings.data_dir) / "master.key").derive("csrf")
            csrf = Csrf(key, secure=False)
            plain = f"/oauth/authorize?{_authorize_query(web['client_id'])}"
            for i in range(count):
                _, headers, _ = await call("GET", plain, {"cookie": f"yht_browser={browser}"})
                tx = parse_qs(urlsplit(headers["location"]).query)["tx"][0]
                user = made["users"][i % len(made["users"])]
                login_bodies.append(
                    urlencode(
                        {
                            "tx": tx,
                            "csrf_token": csrf.token(browser, f"login:{tx}"),
                            "username": user,
                            "password": PASSWORD,
                        }
                    ).encode()
                )

        pcs = iter(range(10**9))

        async def scan_page() -> int:
            # A PC's first visit: its own browser, the authorization request, the scan tab.
            pc = {"cookie": f"yht_browser=pc{next(pcs):08d}{uuid.uuid4().hex}"}
            plain = f"/oauth/authorize?{_authorize_query(web['client_id'])}"
            _, headers, _ = await call("GET", plain, pc)
            tx = parse_qs(urlsplit(headers["location"]).query)["tx"][0]
            status, _, page = await call("GET", f"/login/scan?tx={tx}", pc)
            return status if b'class="qr-link"' in page else 500

        sms = SmsSignIns(app, call, web["client_id"], Path(settings.data_dir))
        mobile = MobileScenarios(app, call, ISSUER)
        cas = CasValidations(call)
        if set(MOBILE) & set(args.only):
            await mobile.register()
        scenarios = {
            "client_credentials": (cc_grant, 200),
            "authorize_prompt_none": (prompt_none, 303),
            "authorization_code": (exchange, 200),
            "refresh_token": (refresh_grant, 200),
            "userinfo": (userinfo, 200),
            "introspection": (introspection, 200),
            "password_login": (login, 303),
            "sms_login": (sms.sign_in, 303),
            "device_poll": (mobile.poll, 400),
            "device_slow_down": (mobile.poll_again, 400),
            "dpop_refresh_token": (mobile.refresh, 200),
            "dpop_userinfo": (mobile.userinfo, 200),
            "cas_validate": (cas.validate, 200),
            "scan_page": (scan_page, 200),
        }
        for name in args.only:
            step, expected = scenarios[name]
            count = args.n if name != "password_login" else max(args.n // 50, 20)
            if name == "sms_login":
                count = max(args.n // 4, 20)
            if name == "authorization_code":
                while len(codes) < count + 50:
                    await prompt_none()
            warm_up = min(50, count // 10)
            if name == "password_login":
                await prepare_logins(count + warm_up)
            if name == "sms_login":
                await sms.prepare(count + warm_up)
            if name in MOBILE:
                await mobile.prepare(name, count + warm_up, sign_in, made["users"][1])
            if name == "cas_validate":
                await cas.prepare(count + warm_up, cookie)
            for _ in range(warm_up):
                await step()
            profile = cProfile.Profile(time.process_time) if name in args.profile else None
            cpu, wall = time.process_time(), time.perf_counter()
            if profile:
                profile.enable()
            trips.on, trips.counts = True, trips.counts.__class__()
            if args.phases:
                phases.start()
            for _ in range(count):
                status = await step()
                if status != expected:
                    raise SystemExit(f"{name}: {status}")
            if profile:
                profile.disable()
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            trips.on = False
            print(
                f"{name:24s} {cpu / count * 1e6:8.0f} µs CPU/req  {wall / count * 1e6:8.0f} µs wall"
            )
            if name == "password_login":
                print(f"{'  raw argon2id verify':24s} {raw_verify(settings, count):8.0f} µs CPU/op")
            if args.phases:
                phases.report(count)
            for op, calls in sorted(trips.counts.items()):
                print(f"    {op:32s} {calls / count:5.2f} a request")
            if profile:
                print_packages(profile)
                stats = pstats.Stats(profile, stream=sys.stdout)
                stats.sort_stats(args.sort).print_stats(args.lines)


def print_packages(profile: cProfile.Profile) -> None:
    """Own time by package (site-packages' top level, ours, the standard library), waiting for
    the network (epoll, send) apart."""
    import collections

    own: collections.Counter[str] = collections.Counter()
    for (path, _, function), row in pstats.Stats(profile).stats.items():  # type: ignore[attr-defined]
        if "site-packages/" in path:
            package = path.split("site-packages/")[1].split("/")[0]
        elif "/work/" in path:
            package = "ours: " + path.split("/")[4]
        elif function in ("<method 'poll' of 'select.epoll' objects>",) or "send" in function:
            package = "waiting (epoll, send)"
        else:
            package = "stdlib/builtins"
        own[package] += row[2]
    total = sum(v for k, v in own.items() if not k.startswith("waiting"))
    for package, seconds in own.most_common():
        print(f"    {package:28s} {seconds:7.3f} s  {seconds / total:6.1%}")


def raw_verify(settings: object, count: int) -> float:
    """CPU time of one argon2id verification at the settings' cost, in this process."""
    from argon2 import PasswordHasher

    hasher = PasswordHasher(
        time_cost=settings.argon2_time_cost,  # type: ignore[attr-defined]
        memory_cost=settings.argon2_memory_kib,  # type: ignore[attr-defined]
        parallelism=settings.argon2_parallelism,  # type: ignore[attr-defined]
    )
    stored = hasher.hash(PASSWORD)
    cpu = time.process_time()
    for _ in range(count):
        hasher.verify(stored, PASSWORD)
    return (time.process_time() - cpu) / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(SCENARIOS))
    parser.add_argument("-n", type=int, default=2000)
    parser.add_argument("--alg", default="RS256", choices=["RS256", "ES256"])
    parser.add_argument("--profile", default="")
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--lines", type=int, default=40)
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("--round-trips", action="store_true")
    parser.add_argument("--phases", action="store_true")
    parser.add_argument("--loop", default="uvloop", choices=["uvloop", "asyncio"])
    args = parser.parse_args()
    args.only = args.only.split(",")
    args.profile = [p for p in args.profile.split(",") if p]
    # Log lines go where a server's would, but nowhere to read: fd 2 to /dev/null.
    errors = os.fdopen(os.dup(2), "w")
    os.dup2(os.open(os.devnull, os.O_WRONLY), 2)
    # The loop a server runs on: uvicorn picks uvloop when it is installed (a dependency).
    loop_factory = None
    if args.loop == "uvloop":
        import uvloop

        loop_factory = uvloop.new_event_loop
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(run(args))
    except BaseException:
        import traceback

        traceback.print_exc(file=errors)
        raise SystemExit(1) from None
    finally:
        _redis_delete(13, os.environ["YIHAOTONG_REDIS_PREFIX"])


if __name__ == "__main__":
    main()
