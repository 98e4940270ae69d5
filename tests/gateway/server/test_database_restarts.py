"""PostgreSQL restarting under load (a server of the test's own): while it is away every request
that needs it gets 503 with Retry-After, never a 500, and service comes back with it; the
account-change listener reconnects quietly and the account cache hears changes again."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

import asyncpg
import httpx
import pytest

from gateway.identity.account_cache import AccountCache
from gateway.oauth.models import digest
from store.accounts import AccountStore
from store.database import Database
from store.migrate import upgrade
from store.records import RefreshToken
from tests.conftest import running_gateway
from tests.gateway.browser import hidden
from tests.gateway.helpers import second_instance, service_client
from tests.own_postgres import OwnPostgres, own_postgres

PASSWORD = "correct horse battery 42"
CALLBACK = "https://app.example/cb"
RECOVERY_SECONDS = 20.0


@dataclass
class Answers:
    """Every answer the load got, by endpoint: (status, Retry-After header, error)."""

    seen: list[tuple[str, int, str | None, str]] = field(default_factory=list)
    last_success: dict[str, float] = field(default_factory=dict)

    def note(self, kind: str, response: httpx.Response) -> None:
        self.seen.append(
            (kind, response.status_code, response.headers.get("retry-after"), response.text[:200])
        )
        if response.status_code < 400:
            self.last_success[kind] = time.monotonic()

    async def recovered_after(self, moment: float, kinds: set[str]) -> set[str]:
        """Wait until every kind of request has succeeded again since ``moment``; the kinds
        that did not within RECOVERY_SECONDS."""
        deadline = time.monotonic() + RECOVERY_SECONDS
        while missing := {kind for kind in kinds if self.last_success.get(kind, 0) <= moment}:
            if time.monotonic() > deadline:
                return missing
            await asyncio.sleep(0.2)
        return set()


async def _loop(stop: asyncio.Event, step: Callable[[], Awaitable[None]]) -> None:
    while not stop.is_set():
        try:
            await step()
        except httpx.TransportError:
            await asyncio.sleep(0.05)  # the gateway dropped the connection: that is noted below


async def _refresh_tokens(live, client_id: str, count: int) -> tuple[str, list[str]]:
    """An account with a password, and ``count`` refresh tokens of separate families."""
    async with second_instance(live.settings) as services:
        account = await services.accounts.create_local(username="restart", password=PASSWORD)
        now = services.clock.now()
        tokens = []
        for _ in range(count):
            token = secrets.token_urlsafe(32)
            await services.refresh_tokens.add(
                RefreshToken(
                    digest=digest(token),
                    family_id=secrets.token_urlsafe(32),
                    client_id=client_id,
                    account_id=account.id,
                    scope="openid profile offline_access",
                    offline=True,
                    auth_time=now,
                    created_at=now,
                    expires_at=now + 3600,
                    amr=("pwd",),
                )
            )
            tokens.append(token)
    return account.id, tokens


class MixedLoad:
    """client_credentials, refresh, UserInfo and the sign-in POST, concurrently."""

    def __init__(self, live, registered, refresh_tokens: list[str]) -> None:
        self.live = live
        self.auth = (registered.client.client_id, registered.client_secret)
        self.client_id = registered.client.client_id
        self.spare = list(refresh_tokens)
        self.access_token: str | None = None
        self.answers = Answers()
        self.stop = asyncio.Event()
        self.http = httpx.AsyncClient(base_url=live.url, timeout=60)

    async def client_credentials(self) -> None:
        response = await self.http.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=self.auth
        )
        self.answers.note("client_credentials", response)

    async def refresh(self, chain: list[str]) -> None:
        if not chain:
            chain.append(self.spare.pop())
        response = await self.http.post(
            "/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": chain[-1]},
            auth=self.auth,
        )
        self.answers.note("refresh", response)
        if response.status_code == 200:
            chain[-1] = response.json()["refresh_token"]
            self.access_token = response.json()["access_token"]
        elif response.status_code == 400:
            # Rotated just before an outage cut the answer: asking again counts as reuse.
            chain[:] = []

    async def userinfo(self) -> None:
        if self.access_token is None:
            await asyncio.sleep(0.05)
            return
        response = await self.http.get(
            "/oauth/userinfo", headers={"Authorization": f"Bearer {self.access_token}"}
        )
        self.answers.note("userinfo", response)

    async def sign_in(self) -> None:
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.client_id,
                "redirect_uri": CALLBACK,
                "scope": "openid",
                "state": "s",
            }
        )
        async with httpx.AsyncClient(base_url=self.live.url, timeout=60) as browser:
            page = await browser.get(f"/oauth/authorize?{query}", follow_redirects=True)
            if page.status_code != 200 or page.url.path != "/login":
                self.answers.note("sign_in_page", page)
                await asyncio.sleep(0.1)
                return
            posted = await browser.post(
                "/login",
                data={
                    "tx": hidden(page.text, "tx"),
                    "csrf_token": hidden(page.text, "csrf_token"),
                    "username": "restart",
                    "password": PASSWORD,
                },
            )
        self.answers.note("sign_in", posted)

    def tasks(self) -> list[asyncio.Task[None]]:
        chains: list[list[str]] = [[], []]
        steps = [
            self.client_credentials,
            self.client_credentials,
            lambda: self.refresh(chains[0]),
            lambda: self.refresh(chains[1]),
            self.userinfo,
            self.userinfo,
            self.sign_in,
        ]
        return [asyncio.create_task(_loop(self.stop, step)) for step in steps]


@pytest.mark.slow
async def test_a_database_restart_under_load_answers_503_and_recovers(settings_for) -> None:
    with own_postgres() as server:
        await _restarts_under_load(settings_for, server)


async def _restarts_under_load(settings_for, server: OwnPostgres) -> None:
    with running_gateway(settings_for, "services", database_url=server.url) as live:
        registered = await service_client(
            live.settings,
            grant_types=["authorization_code", "refresh_token", "client_credentials"],
            redirect_uris=[CALLBACK],
            scopes=["openid", "profile", "offline_access", "data.read"],
            # Its refresh tokens are written straight to the database, past the authorization
            # that would record a pairwise sub: UserInfo reads the public one.
            subject_type="public",
        )
        _, tokens = await _refresh_tokens(live, registered.client.client_id, 300)
        load = MixedLoad(live, registered, tokens)
        workers = load.tasks()
        kinds = {"client_credentials", "refresh", "userinfo", "sign_in"}
        not_recovered: list[tuple[str, set[str]]] = []
        try:
            assert not await load.answers.recovered_after(0, kinds)
            for disruption in DISRUPTIONS:
                await disruption(server)
                missing = await load.answers.recovered_after(time.monotonic(), kinds)
                if missing:
                    not_recovered.append((disruption.__name__, missing))
                    break
        finally:
            load.stop.set()
            await asyncio.gather(*workers, return_exceptions=True)
            await load.http.aclose()
    seen = load.answers.seen
    statuses = Counter((kind, status) for kind, status, _, _ in seen)
    failures = [entry for entry in seen if entry[1] >= 500]
    assert not [f for f in failures if f[1] != 503], (statuses, failures[:5])
    assert all(retry_after for _, _, retry_after, _ in failures), failures[:5]
    assert not not_recovered, f"no success after the restart: {not_recovered}"
    assert failures, "the database was away: some requests should have been told to retry"
    assert len(seen) > 200, statuses


# -- the account-change listener ------------------------------------------------------------------


async def _set_name(url: str, account_id: str, name: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute("UPDATE accounts SET name = $1 WHERE id = $2", name, account_id)
    finally:
        await connection.close()


async def _keep_asking(cache: AccountCache, account_id: str) -> None:
    """What UserInfo does while the database is away."""
    while True:
        with contextlib.suppress(Exception):  # the outage itself is not under test here
            await cache.get(account_id)
        await asyncio.sleep(0.05)


async def _until(condition: Callable[[], Awaitable[bool]], what: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not await condition():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.1)


@pytest.mark.slow
async def test_the_account_change_listener_reconnects_quietly(caplog) -> None:
    with own_postgres() as server:
        await _listener_across_restarts(server, caplog)


async def _listener_across_restarts(server: OwnPostgres, caplog) -> None:
    loop = asyncio.get_running_loop()
    unhandled: list[dict] = []
    loop.set_exception_handler(lambda _loop, context: unhandled.append(context))
    database = Database(server.url)
    await upgrade(database)
    store = AccountStore(database)
    async with second_database_session(server.url) as account_id:
        cache = AccountCache(store.get, database.engine, ttl=300)
        caplog.set_level(logging.INFO, logger="yihaotong")
        await cache.start()
        try:
            assert cache.listening
            for disruption in DISRUPTIONS:
                caplog.clear()
                asking = asyncio.create_task(_keep_asking(cache, account_id))
                try:
                    await disruption(server)
                finally:
                    asking.cancel()

                async def listening() -> bool:
                    await cache.get(account_id)  # requests go on after the restart
                    return cache.listening

                await _until(listening, "the listener did not come back")
                name = f"name-{secrets.token_hex(3)}"
                assert (await cache.get(account_id)).name != name  # kept while listening
                await _set_name(server.url, account_id, name)

                async def heard(name: str = name) -> bool:
                    return (await cache.get(account_id)).name == name

                await _until(heard, "the change was not heard", seconds=5)
                assert cache.listening
                messages = [r.getMessage() for r in caplog.records if r.name == "yihaotong"]
                warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
                assert len(warnings) == 1, [r.getMessage() for r in warnings]
                assert sum("again" in m for m in messages) == 1, messages
        finally:
            await cache.close()
            await database.close()
            gc.collect()
            await asyncio.sleep(0)
    assert not unhandled, unhandled
    assert "never retrieved" not in caplog.text


async def fast_restart(server: OwnPostgres) -> None:
    await asyncio.to_thread(server.restart)


async def stop_wait_start(server: OwnPostgres) -> None:
    await asyncio.to_thread(server.stop)
    await asyncio.sleep(2)  # away for a while: connections are refused
    await asyncio.to_thread(server.start)


async def shutting_down(server: OwnPostgres) -> None:
    """A smart shutdown held open by one session: new connections are refused with "the
    database system is shutting down" for six seconds, then every other session is ended."""
    hold = await asyncpg.connect(server.url)
    try:
        await asyncio.to_thread(server.stop_smart)

        async def refused() -> bool:
            try:
                await (await asyncpg.connect(server.url)).close()
            except asyncpg.CannotConnectNowError:
                return True
            return False

        await _until(refused, "the server did not begin shutting down")
        await hold.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'"
        )
        await asyncio.sleep(6)  # longer than a reconnecting listener waits between attempts
    finally:
        await hold.close()
    await asyncio.to_thread(server.wait_stopped)
    await asyncio.to_thread(server.start)


DISRUPTIONS = [fast_restart, stop_wait_start, shutting_down]


class second_database_session:  # used as a context manager
    """An account made through a connection of its own (as an operator's tool would)."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def __aenter__(self) -> str:
        account_id = secrets.token_hex(8)
        connection = await asyncpg.connect(self.url)
        try:
            await connection.execute(
                "INSERT INTO accounts (id, username, name, kind, disabled, created_at, updated_at)"
                " VALUES ($1, $2, 'first', 'person', false, now(), now())",
                account_id,
                f"u{account_id}",
            )
        finally:
            await connection.close()
        return account_id

    async def __aexit__(self, *exc: object) -> None:
        return None
