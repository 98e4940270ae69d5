"""The city of ``python -m bench --city``, seeded: its people (``console_seed``'s departments and
accounts, without identifiers or audit history), 2,000 web apps and 20 department APIs made by
the gateway's own client service, passwords for the accounts that sign in during the run, and
100,000 live SSO sessions made by the gateway's own session service (so their Redis memory is
the real one), each already signed in to one app. Sizes are those of a scale of 1.0.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import redis.asyncio as aioredis

from bench import console_seed
from bench.console import account_id
from bench.sides import PASSWORD, REDIRECT_URI
from store import kv_keys

# A phone's browser, as sessions record it (kept to 200 characters by the gateway).
USER_AGENT = (
    "Mozilla/5.0 (Linux; Android 14; V2309A) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Mobile Safari/537.36"
)
SAMPLED = 1000  # sessions whose keys are weighed one by one with MEMORY USAGE


@dataclass(frozen=True)
class City:
    accounts: int
    sessions: int
    apps: int
    apis: int
    signers: int  # accounts given a password, to sign in with during the run
    tree: tuple[int, int, int]

    @classmethod
    def at(cls, scale: float) -> City:
        return cls(
            accounts=max(1000, round(1_000_000 * scale)),
            sessions=max(100, round(100_000 * scale)),
            apps=max(10, round(2000 * scale)),
            apis=max(2, round(20 * scale)),
            signers=max(50, round(5000 * scale)),
            tree=(max(1, round(20 * scale)), 10, 49),
        )


def person(n: int) -> int:
    """Account n, or the next one that is not disabled (the seed disables every 97th)."""
    return n + 1 if n % 97 == 0 else n


@dataclass
class Seeded:
    apps: list[tuple[str, str]]  # client_id, secret
    apis: list[tuple[str, str]]
    cookies: list[str]  # session cookie values
    sids: list[str]
    signers: list[str]  # usernames with PASSWORD
    redis_bytes_per_session: float | None  # used_memory's growth (the server is shared)
    sampled_bytes_per_session: float  # MEMORY USAGE of a session's four keys
    seconds: dict[str, float]


def settings_from(env: dict[str, str]):  # type: ignore[no-untyped-def]
    from gateway.server.settings import Settings

    named = {k.removeprefix("YIHAOTONG_").lower(): v for k, v in env.items()}
    return Settings(**{k: v for k, v in named.items() if f"YIHAOTONG_{k.upper()}" in env})


async def seed_people(database: str, data_dir: Path, city: City) -> float:
    """A fresh database with the schema, the keys and the city's departments and accounts."""
    started = time.monotonic()
    await console_seed.recreate(database, replace=True)
    await asyncio.to_thread(console_seed.initialize, data_dir, database)
    db = await asyncpg.connect(f"{console_seed.SERVER}/{database}")
    try:
        await console_seed.fill_people(db, list(city.tree), city.accounts, time.monotonic())
        await db.execute("VACUUM ANALYZE")
    finally:
        await db.close()
    return time.monotonic() - started


async def seed_services(env: dict[str, str], city: City) -> Seeded:
    from gateway.server.services import open_services

    settings = settings_from(env)
    services = await open_services(settings)
    seconds: dict[str, float] = {}
    try:
        started = time.monotonic()
        apps = await _register(services, city.apps, api=False)
        apis = await _register(services, city.apis, api=True)
        seconds["apps"] = time.monotonic() - started
        started = time.monotonic()
        signers = [f"u{person(city.accounts - 2 * n):07d}" for n in range(city.signers)]
        digest = await services.passwords.hash_async(PASSWORD)
        await _set_passwords(settings.database_url, digest, signers)
        seconds["passwords"] = time.monotonic() - started
        started = time.monotonic()
        memory = aioredis.Redis.from_url(settings.redis_url)
        try:
            before = (await memory.info("memory"))["used_memory"]
            cookies, sids = await _sessions(services, city, [client for client, _ in apps])
            after = (await memory.info("memory"))["used_memory"]
            sampled = await session_bytes(memory, settings.redis_prefix, services, sids)
        finally:
            await memory.aclose()
        seconds["sessions"] = time.monotonic() - started
    finally:
        await services.close()
    return Seeded(
        apps=apps,
        apis=apis,
        cookies=cookies,
        sids=sids,
        signers=signers,
        redis_bytes_per_session=(after - before) / len(sids),
        sampled_bytes_per_session=sampled,
        seconds=seconds,
    )


async def _set_passwords(url: str, digest: str, usernames: list[str]) -> None:
    db = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await db.execute(
            "UPDATE accounts SET password_hash = $1 WHERE username = ANY($2)", digest, usernames
        )
    finally:
        await db.close()


async def _register(services, count: int, api: bool) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    async def one(n: int) -> tuple[str, str]:
        if api:
            made = await services.clients.register(
                name=f"部门接口 {n}", grant_types=["client_credentials"], resource_server=True
            )
        else:  # the defaults a new app gets: pairwise subjects, JWT access tokens
            made = await services.clients.register(
                name=f"城市应用 {n}", redirect_uris=[REDIRECT_URI]
            )
        return made.client.client_id, made.client_secret

    made: list[tuple[str, str]] = []
    for first in range(0, count, 20):
        made += await asyncio.gather(*(one(n) for n in range(first, min(first + 20, count))))
    return made


async def _sessions(services, city: City, apps: list[str]) -> tuple[list[str], list[str]]:  # type: ignore[no-untyped-def]
    """Sessions of distinct people spread over the city, each signed in to one app, as a
    password sign-in and its first app leave them."""
    stride = max(1, city.accounts // city.sessions)
    picker = random.Random(7)  # noqa: S311 - which app, not a secret

    async def one(n: int) -> tuple[str, str]:
        who = account_id(person(1 + n * stride))
        ip = f"10.{n % 200}.{n // 200 % 250}.{n % 7 + 1}"
        cookie, session = services.sessions.new(who, ["pwd"], "L1", USER_AGENT, ip)
        await services.sessions.store(session)
        await services.sessions.add_client(session, picker.choice(apps))
        return cookie, session.sid

    made: list[tuple[str, str]] = [("", "")] * city.sessions
    numbers = iter(range(city.sessions))

    async def lane() -> None:
        for n in numbers:
            made[n] = await one(n)

    # redis-py's asyncio pool holds at most 100 connections; a session's store takes three.
    await asyncio.gather(*(lane() for _ in range(30)))
    return [c for c, _ in made], [s for _, s in made]


async def session_bytes(memory: aioredis.Redis, prefix: str, services, sids: list[str]) -> float:  # type: ignore[no-untyped-def]
    """The mean MEMORY USAGE of a session's four keys, over a sample of the sessions."""
    total, counted = 0, 0
    sample = random.Random(11).sample(sids, min(SAMPLED, len(sids)))  # noqa: S311 - not a secret
    for sid in sample:
        session = await services.sessions.get(sid)
        if session is None:
            continue
        keys = [
            kv_keys.session(sid),
            kv_keys.session_seen(sid),
            kv_keys.session_clients(sid),
            kv_keys.sessions_of(session.account_id),
        ]
        for key in keys:
            total += await memory.memory_usage(prefix + key, samples=0) or 0
        counted += 1
    return total / counted if counted else 0.0


async def count_sessions(url: str, prefix: str) -> int:
    """Live session records under ``prefix`` (SCAN; the server is shared)."""
    memory = aioredis.Redis.from_url(url)
    try:
        return sum([1 async for _ in memory.scan_iter(match=f"{prefix}sso:*", count=1000)])
    finally:
        await memory.aclose()


def env_for(
    database: str, data_dir: Path, redis_url: str, prefix: str, issuer: str
) -> dict[str, str]:
    """The settings both the seed and the served gateway read. A working day's sessions: the
    idle limit is the absolute one (10 h), so a long run does not age the seeded ones out."""
    return {
        "YIHAOTONG_ISSUER": issuer,
        "YIHAOTONG_DATA_DIR": str(data_dir),
        "YIHAOTONG_DATABASE_URL": f"{console_seed.SERVER}/{database}",
        "YIHAOTONG_REDIS_URL": redis_url,
        "YIHAOTONG_REDIS_PREFIX": prefix,
        "YIHAOTONG_SESSION_IDLE_SECONDS": "36000",
        "YIHAOTONG_LOG_LEVEL": os.environ.get("YIHAOTONG_LOG_LEVEL", "WARNING"),
    }
