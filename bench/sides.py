"""The two servers under test: how to start each, sign in once, and what each scenario sends.

Both get the same work: a confidential web app (authorization code + PKCE S256, refresh tokens
rotated on every use) and client_credentials clients whose JWT access tokens are signed with
RS256 or ES256; ID tokens are RS256 on both sides.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from bench.procs import Server
from bench.wrk import Request

ROOT = Path(__file__).resolve().parent.parent
PEER_DIR = Path(__file__).resolve().parent / "peer"
REDIRECT_URI = "http://127.0.0.1:9/cb"
VERIFIER = "bench-pkce-verifier-" + "0123456789" * 4
CHALLENGE = (
    base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).decode().rstrip("=")
)
PASSWORD = "Bench-pass-2026!"  # noqa: S105 - the bench accounts' throwaway password
LOGIN_USERS = 16
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS = "redis://127.0.0.1:6379"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def _authorize_query(client_id: str, extra: dict[str, str] | None = None) -> str:
    return urlencode(
        {
            "client_id": client_id,
            "response_type": "code",
            "scope": "openid profile email",
            "redirect_uri": REDIRECT_URI,
            "state": "bench",
            "code_challenge": CHALLENGE,
            "code_challenge_method": "S256",
            **(extra or {}),
        }
    )


def _code_of(location: str) -> str:
    return parse_qs(urlsplit(location).query)["code"][0]


def _cookie_header(jar: httpx.Cookies) -> str:
    return "; ".join(f"{c.name}={c.value}" for c in jar.jar if c.path in ("/", ""))


class Side:
    """What the runner needs from a server under test."""

    name: str
    port: int
    token_path: str
    authorize_path: str
    userinfo_path: str
    introspection_path: str
    discovery_path = "/.well-known/openid-configuration"
    jwks_path: str
    web: tuple[str, str]  # client_id, secret
    cc: dict[str, tuple[str, str]]  # alg -> client_id, secret
    server: Server | None = None
    cookie = ""  # the SSO session, after sign_in()
    access_token = ""

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def sign_in(self) -> None:
        raise NotImplementedError

    def exchange_first_code(self, location: str) -> None:
        with httpx.Client(base_url=self.base_url) as http:
            answer = http.post(
                self.token_path,
                data=self.code_body(_code_of(location), encoded=False),
                headers={"Authorization": basic(*self.web)},
            )
            answer.raise_for_status()
            self.access_token = answer.json()["access_token"]

    def code_body(self, code: str, encoded: bool = True) -> str | dict[str, str]:
        body = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": VERIFIER,
        }
        return urlencode(body) if encoded else body

    # -- scenarios ---------------------------------------------------------------------------

    def get(self, path: str) -> Request:
        return Request("GET", path)

    def client_credentials(self, alg: str) -> Request:
        return Request(
            "POST",
            self.token_path,
            body="grant_type=client_credentials&scope=bench.read",
            headers={**FORM, "Authorization": basic(*self.cc[alg])},
        )

    def userinfo(self) -> Request:
        return Request(
            "GET", self.userinfo_path, headers={"Authorization": f"Bearer {self.access_token}"}
        )

    def introspection(self) -> Request:
        return Request(
            "POST",
            self.introspection_path,
            body=urlencode({"token": self.access_token}),
            headers={**FORM, "Authorization": basic(*self.web)},
        )

    def authorize(self) -> Request:
        """A signed-in person's visit to an app: prompt=none, answered with a code (unused)."""
        return Request(
            "GET",
            f"{self.authorize_path}?{_authorize_query(self.web[0], {'prompt': 'none'})}",
            headers={"Cookie": self.cookie},
        )

    def mint(self, out: Path, per_thread: int) -> Request:
        """prompt=none authorization requests in the signed-in browser: each answer is a code."""
        return Request(
            "GET",
            f"{self.authorize_path}?{_authorize_query(self.web[0], {'prompt': 'none'})}",
            headers={"Cookie": self.cookie},
            capture="location:code",
            out=out,
            capture_limit=per_thread,
            stop_after_capture=True,
        )

    def exchange(self, codes: Path, refresh_out: Path, keep: int) -> Request:
        return Request(
            "POST",
            self.token_path,
            headers={**FORM, "Authorization": basic(*self.web)},
            bodies=codes,
            capture="body:refresh_token",
            out=refresh_out,
            capture_limit=keep,
        )

    def refresh(self, tokens: Path) -> Request:
        return Request(
            "POST",
            self.token_path,
            headers={**FORM, "Authorization": basic(*self.web)},
            bodies=tokens,
            chain="grant_type=refresh_token&refresh_token=%s",
        )


class Yihaotong(Side):
    name = "yihaotong"
    token_path = "/oauth/token"  # noqa: S105 - a path
    authorize_path = "/oauth/authorize"
    userinfo_path = "/oauth/userinfo"
    introspection_path = "/oauth/introspect"
    jwks_path = "/.well-known/jwks.json"

    def __init__(self, work: Path, port: int, run_id: str, access_format: str = "opaque") -> None:
        self.port = port
        self.access_format = access_format  # the web app's access tokens
        self.work = work
        self.database = f"yht_bench_{run_id}"
        self.env = {
            **os.environ,
            "YIHAOTONG_ISSUER": self.base_url,
            "YIHAOTONG_DATA_DIR": str(work / "yihaotong"),
            "YIHAOTONG_DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{self.database}",
            "YIHAOTONG_REDIS_URL": f"{REDIS}/13",
            "YIHAOTONG_REDIS_PREFIX": f"bench-{run_id}:",
        }
        self.server: Server | None = None

    def prepare(self) -> None:
        """A fresh database, schema, keys, the clients and the accounts."""
        _psql(f'CREATE DATABASE "{self.database}"')
        env = {**self.env, "YIHAOTONG_SIGNING_ALGS": "RS256,ES256", "YIHAOTONG_LOG_LEVEL": "ERROR"}
        provision = ["bench.provision", str(LOGIN_USERS), PASSWORD, REDIRECT_URI]
        done = subprocess.run(
            [sys.executable, "-m", *provision, self.access_format],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        made = json.loads(done.stdout)
        self.web = (made["web"]["client_id"], made["web"]["client_secret"])
        cc = (made["cc"]["client_id"], made["cc"]["client_secret"])
        # One client_credentials client; the server's first signing algorithm decides.
        self.cc = {"RS256": cc, "ES256": cc}
        self.app_id = made["app"]["client_id"]
        self.login_users = made["users"]

    def start(self, workers: int, cpus: str | None, algs: str = "RS256,ES256") -> None:
        env = {**self.env, "YIHAOTONG_SIGNING_ALGS": algs}
        command = [
            sys.executable,
            "-c",
            "from gateway.cli import main; main()",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            str(workers),
        ]
        self.server = Server(
            command,
            cpus=cpus,
            env=env,
            log=self.work / "yihaotong.log",
            ready_url=self.base_url + "/healthz",
            cwd=ROOT,
        )

    def stop(self) -> None:
        if self.server:
            self.server.stop()
            self.server = None

    def twin(self, port: int) -> Yihaotong:
        """A second instance on the same database and Redis (as a scale-out deployment runs
        them), on its own port: started with the other signing algorithm first, it answers
        the other client_credentials scenario while this one stays up."""
        twin = Yihaotong.__new__(Yihaotong)
        twin.__dict__.update(self.__dict__)
        twin.port, twin.server = port, None
        twin.env = {**self.env, "YIHAOTONG_ISSUER": twin.base_url}
        return twin

    def sign_in(self) -> None:
        """The real sign-in: authorization request, sign-in page, form post, resume."""
        with httpx.Client(base_url=self.base_url) as http:
            started = http.get(f"{self.authorize_path}?{_authorize_query(self.web[0])}")
            page = http.get(started.headers["location"])
            # The password form comes first; the page's other forms (passkey) carry their own.
            fields: dict[str, str] = {}
            for name, value in re.findall(r'name="(tx|csrf_token)" value="([^"]+)"', page.text):
                fields.setdefault(name, value)
            posted = http.post(
                "/login",
                data={**fields, "username": self.login_users[0], "password": PASSWORD},
            )
            resumed = http.get(posted.headers["location"])
            if "code=" not in resumed.headers.get("location", ""):
                raise RuntimeError(f"sign-in did not end with a code: {resumed.status_code}")
            self.cookie = _cookie_header(http.cookies)
            self.browser = http.cookies["yht_browser"]
        self.exchange_first_code(resumed.headers["location"])

    def login_transactions(self, out: Path, per_thread: int) -> Request:
        """Authorization requests of a browser without a session: each answer is a sign-in
        page's transaction."""
        return Request(
            "GET",
            f"{self.authorize_path}?{_authorize_query(self.web[0])}",
            headers={"Cookie": f"yht_browser={self.browser}"},
            capture="location:tx",
            out=out,
            capture_limit=per_thread,
            stop_after_capture=True,
        )

    def login_bodies(self, transactions: list[str]) -> list[str]:
        return login_bodies(self.work / "yihaotong", self.browser, transactions, self.login_users)

    def login_post(self, bodies: Path) -> Request:
        return Request(
            "POST",
            "/login",
            headers={**FORM, "Cookie": f"yht_browser={self.browser}"},
            bodies=bodies,
        )

    def cleanup(self) -> None:
        _psql(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
        _redis_delete(13, self.env["YIHAOTONG_REDIS_PREFIX"])


class Peer(Side):
    name = "oidc-provider"
    token_path = "/token"  # noqa: S105 - a path
    authorize_path = "/auth"
    userinfo_path = "/me"
    introspection_path = "/token/introspection"
    jwks_path = "/jwks"

    def __init__(self, work: Path, port: int, run_id: str) -> None:
        self.port = port
        self.work = work
        self.prefix = f"bench-peer-{run_id}:"
        secret = hashlib.sha256(run_id.encode()).hexdigest()
        self.web = ("bench-web", "web-" + secret)
        self.cc = {
            "RS256": ("bench-rs256", "rs-" + secret),
            "ES256": ("bench-es256", "es-" + secret),
        }
        self.server: Server | None = None

    def prepare(self) -> None:
        if not (PEER_DIR / "node_modules" / "oidc-provider").exists():
            subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund"], cwd=PEER_DIR, check=True,
                stdout=subprocess.DEVNULL,
            )  # fmt: skip

    def _config(self, workers: int, redis: bool) -> Path:
        clients = [
            {
                "client_id": self.web[0],
                "client_secret": self.web[1],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "redirect_uris": [REDIRECT_URI],
            }
        ]
        for alg, (client_id, secret) in self.cc.items():
            clients.append(
                {
                    "client_id": client_id,
                    "client_secret": secret,
                    "grant_types": ["client_credentials"],
                    "response_types": [],
                    "redirect_uris": [],
                    "scope": "bench.read",
                    "bench_resource": f"urn:bench:{alg.lower()}",
                }
            )
        config = {
            "port": self.port,
            "workers": workers,
            "redis_url": f"{REDIS}/14" if redis else None,
            "redis_prefix": self.prefix,
            "clients": clients,
            "account": {
                "sub": "bench-user",
                "name": "Bench User",
                "preferred_username": "bench00",
                "email": "bench00@example.test",
                "email_verified": False,
            },
        }
        path = self.work / f"peer-{workers}.json"
        path.write_text(json.dumps(config))
        return path

    def start(self, workers: int, cpus: str | None, redis: bool = True) -> None:
        self.server = Server(
            ["node", str(PEER_DIR / "server.mjs"), str(self._config(workers, redis))],
            cpus=cpus,
            env=dict(os.environ),
            log=self.work / "peer.log",
            ready_url=self.base_url + self.discovery_path,
            cwd=PEER_DIR,
        )

    def stop(self) -> None:
        if self.server:
            self.server.stop()
            self.server = None

    def sign_in(self) -> None:
        """Through the bench's interaction (it signs in and grants; see server.mjs)."""
        with httpx.Client(base_url=self.base_url) as http:
            location = f"{self.authorize_path}?{_authorize_query(self.web[0])}"
            for _ in range(10):
                location = http.get(location).headers["location"]
                if location.startswith(REDIRECT_URI):
                    break
            else:
                raise RuntimeError("the peer's sign-in did not end with a code")
            self.cookie = _cookie_header(http.cookies)
        self.exchange_first_code(location)

    def cleanup(self) -> None:
        _redis_delete(14, self.prefix)


def login_bodies(
    data_dir: Path, browser: str, transactions: list[str], usernames: list[str]
) -> list[str]:
    """The sign-in form posts, with the CSRF token the page would carry (an HMAC of the
    browser cookie and the transaction with the instance's key)."""
    from gateway.server.csrf import Csrf
    from keys.master import MasterKey

    csrf = Csrf(MasterKey.from_file(data_dir / "master.key").derive("csrf"), secure=False)
    return [
        urlencode(
            {
                "tx": tx,
                "csrf_token": csrf.token(browser, f"login:{tx}"),
                "username": usernames[i % len(usernames)],
                "password": PASSWORD,
            }
        )
        for i, tx in enumerate(transactions)
    ]


def standalone(kind: str, port: int, run_id: str) -> tuple[Path, str, str, dict[str, str]]:
    """A one-scenario server's work directory, database name, base URL and settings (the
    production shape: PostgreSQL, Redis database 13 under a prefix of its own)."""
    work = ROOT / "bench" / "work" / f"{kind}-{run_id}"
    work.mkdir(parents=True, exist_ok=True)
    database = f"yht_bench_{kind}_{run_id.replace('-', '_')}"
    base = f"http://127.0.0.1:{port}"
    env = {
        "YIHAOTONG_ISSUER": base,
        "YIHAOTONG_DATA_DIR": str(work / "yihaotong"),
        "YIHAOTONG_DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{database}",
        "YIHAOTONG_REDIS_URL": f"{REDIS}/13",
        "YIHAOTONG_REDIS_PREFIX": f"bench-{kind}-{run_id}:",
        "YIHAOTONG_LOG_LEVEL": "ERROR",
    }
    return work, database, base, env


def settings_of(env: dict[str, str]) -> dict[str, str]:
    """``Settings`` keyword arguments from YIHAOTONG_* variables."""
    return {
        k.removeprefix("YIHAOTONG_").lower(): v
        for k, v in env.items()
        if k.startswith("YIHAOTONG_")
    }


def _psql(statement: str) -> None:
    subprocess.run(
        ["psql", PG_ADMIN, "-q", "-v", "ON_ERROR_STOP=1", "-c", statement],
        check=True,
        capture_output=True,
    )


def _redis_delete(db: int, prefix: str) -> None:
    """Delete this run's keys only (the database may be shared): SCAN and UNLINK."""
    import redis

    async def delete() -> None:
        client = redis.asyncio.Redis.from_url(f"{REDIS}/{db}")
        try:
            batch = []
            async for key in client.scan_iter(match=prefix + "*", count=1000):
                batch.append(key)
                if len(batch) >= 1000:
                    await client.unlink(*batch)
                    batch.clear()
            if batch:
                await client.unlink(*batch)
        finally:
            await client.aclose()

    asyncio.run(delete())
