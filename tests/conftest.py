"""Fixtures shared by every test: backends (SQLite / PostgreSQL, memory / Redis), a fake clock,
settings for a throw-away data directory, and a live gateway on a real socket."""

from __future__ import annotations

import asyncio
import copy
import os
import queue
import secrets
import shutil
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from gateway.server.app import create_app
from gateway.server.services import initialize
from gateway.server.settings import Settings
from store.clock import Clock, FakeClock
from store.database import Database, normalize_url
from store.kv import ExpiringStore
from store.memory import MemoryStore
from store.migrate import upgrade

# Cheap argon2id for every server and command the tests start (subprocesses inherit it; a test
# that hands a command an environment of its own adds CHEAP_HASHING to it);
# tests/gateway/identity/test_accounts_and_settings.py checks the production cost is the default.
CHEAP_HASHING = {"YIHAOTONG_ARGON2_MEMORY_KIB": "1024", "YIHAOTONG_ARGON2_TIME_COST": "1"}
for _name, _value in CHEAP_HASHING.items():
    os.environ.setdefault(_name, _value)

TEST_DATABASE_URL = os.environ.get("YIHAOTONG_TEST_DATABASE_URL")
TEST_REDIS_URL = os.environ.get("YIHAOTONG_TEST_REDIS_URL")
REQUIRE_SERVICES = os.environ.get("YIHAOTONG_TEST_REQUIRE_SERVICES") == "1"
# Keys a SCAN step looks at: the shared test server holds every run's keys, and the default (10)
# takes a round trip per ten of them.
SCAN_COUNT = 1000


def need(url: str | None, variable: str) -> str:
    """The service URL, or a skip (a failure when YIHAOTONG_TEST_REQUIRE_SERVICES=1)."""
    if url:
        return url
    if REQUIRE_SERVICES:
        pytest.fail(f"{variable} is not set and YIHAOTONG_TEST_REQUIRE_SERVICES=1")
    pytest.skip(f"set {variable} to run against that backend")


# -- PostgreSQL: a fresh database per test, created through the admin URL ----------------------


async def _admin(sql: str) -> None:
    import asyncpg

    url = normalize_url(need(TEST_DATABASE_URL, "YIHAOTONG_TEST_DATABASE_URL"))
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def admin_sql(sql: str) -> None:
    """Run admin SQL from sync code, even inside an async test (on a thread of its own)."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _admin(sql)).result()


def _database_in(url: str, name: str) -> str:
    base, _, _ = normalize_url(url).rpartition("/")
    return f"{base}/{name}"


class LaterDrops:
    """DROP DATABASE makes the server checkpoint (a second or more on a busy one): a test's
    database is dropped by a thread of this worker while the next tests run, many at once so
    that one checkpoint serves them all. ``finish`` waits for the last ones."""

    BATCH = 6  # drops under way at once (connections to the shared server)

    def __init__(self) -> None:
        self.names: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self.failures: list[str] = []
        self.thread = threading.Thread(target=self._run, name="database-drops", daemon=True)
        self.thread.start()

    def drop(self, name: str) -> None:
        self.names.put(name)

    def finish(self) -> list[str]:
        self.names.put(None)
        self.thread.join()
        return self.failures

    def _run(self) -> None:
        done = False
        while not done:
            batch = [self.names.get()]
            while not self.names.empty() and len(batch) < self.BATCH:
                batch.append(self.names.get())
            done = None in batch
            names = [name for name in batch if name is not None]
            if names:
                asyncio.run(self._drop_all(names))

    async def _drop_all(self, names: list[str]) -> None:
        outcomes = await asyncio.gather(
            *(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)') for name in names),
            return_exceptions=True,
        )
        self.failures += [
            f"{name}: {outcome!r}"
            for name, outcome in zip(names, outcomes, strict=True)
            if isinstance(outcome, BaseException)
        ]


@pytest.fixture(scope="session")
def later_drops() -> Iterator[LaterDrops]:
    drops = LaterDrops()
    yield drops
    failures = drops.finish()
    assert not failures, "databases left on the server: " + "; ".join(failures)


@contextmanager
def throwaway_database(later_drops: LaterDrops, template: str | None = None) -> Iterator[str]:
    """A database of its own on the test server (a copy of ``template``, or empty), dropped
    after."""
    admin_url = need(TEST_DATABASE_URL, "YIHAOTONG_TEST_DATABASE_URL")
    name = f"yht_test_{secrets.token_hex(6)}"
    copy = f' TEMPLATE "{template}"' if template else ""
    admin_sql(f'CREATE DATABASE "{name}"{copy}')
    try:
        yield _database_in(admin_url, name)
    finally:
        later_drops.drop(name)


@pytest.fixture
def postgres_url(later_drops: LaterDrops) -> Iterator[str]:
    with throwaway_database(later_drops) as url:
        yield url


def _in_thread(work: Coroutine[Any, Any, None]) -> None:
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, work).result()


async def _migrate(url: str) -> None:
    database = Database(url)
    try:
        await upgrade(database)
    finally:
        await database.close()


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file with the schema at head, migrated once; ``database`` starts from copies."""
    path = tmp_path_factory.mktemp("migrated") / "test.db"
    _in_thread(_migrate(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def migrated_postgres(later_drops: LaterDrops) -> Iterator[str]:
    """A PostgreSQL database with the schema at head, migrated once (the migrations take
    seconds there); ``database`` starts from copies (CREATE DATABASE ... TEMPLATE)."""
    with throwaway_database(later_drops) as url:
        _in_thread(_migrate(url))
        yield url.rpartition("/")[2]


def _initialize_in_thread(settings: Settings) -> None:
    _in_thread(initialize(settings))


@pytest.fixture(scope="session")
def initialized_embedded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory after ``yihaotong init`` on the embedded default (schema, master key,
    signing keys), made once: each test starts from a copy instead of doing it all again."""
    data_dir = tmp_path_factory.mktemp("initialized") / "var"
    _initialize_in_thread(Settings(data_dir=data_dir, log_level="WARNING"))
    return data_dir


@pytest.fixture(scope="session")
def initialized_postgres(
    tmp_path_factory: pytest.TempPathFactory, later_drops: LaterDrops
) -> Iterator[tuple[str, Path]]:
    """A PostgreSQL database after ``yihaotong init`` and the master key its signing keys are
    sealed with, made once; each test's database is a copy (CREATE DATABASE ... TEMPLATE)."""
    admin_url = need(TEST_DATABASE_URL, "YIHAOTONG_TEST_DATABASE_URL")
    name = f"yht_template_{secrets.token_hex(6)}"
    admin_sql(f'CREATE DATABASE "{name}"')
    data_dir = tmp_path_factory.mktemp("initialized-postgres") / "var"
    try:
        settings = Settings(
            data_dir=data_dir, database_url=_database_in(admin_url, name), log_level="WARNING"
        )
        _initialize_in_thread(settings)
        yield name, data_dir
    finally:
        later_drops.drop(name)


@pytest.fixture
def initialized_postgres_url(
    initialized_postgres: tuple[str, Path], later_drops: LaterDrops
) -> Iterator[str]:
    """This test's copy of the initialized database (one per test, however often asked)."""
    template, _ = initialized_postgres
    with throwaway_database(later_drops, template) as url:
        yield url


def _copy_master_key(source_dir: Path, data_dir: Path) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    target = data_dir / "master.key"
    shutil.copyfile(source_dir / "master.key", target)
    target.chmod(0o600)


@pytest.fixture
def redis_url() -> str:
    return need(TEST_REDIS_URL, "YIHAOTONG_TEST_REDIS_URL")


@pytest.fixture(scope="session")
def redis_cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A three-master Redis Cluster of local redis-server processes, for the whole session."""
    from tests.redis_cluster import require_redis_binaries, start_cluster

    require_redis_binaries()
    cluster = start_cluster(tmp_path_factory.mktemp("redis-cluster"))
    try:
        yield cluster.url
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def redis_sentinel_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A local redis-server watched by one sentinel (``redis+sentinel://`` URL)."""
    from tests.redis_cluster import require_redis_binaries, start_sentinel

    require_redis_binaries()
    deployment = start_sentinel(tmp_path_factory.mktemp("redis-sentinel"))
    try:
        yield deployment.url
    finally:
        deployment.stop()


# -- backends, parametrized ---------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A throw-away database: empty, or, when the test asks for ``database`` too, a copy of one
    migrated once for the session (``database`` still runs the migrations: they find it at
    head)."""
    migrated = "database" in request.fixturenames
    if request.param == "sqlite":
        path = tmp_path / "test.db"
        if migrated:
            shutil.copyfile(request.getfixturevalue("migrated_sqlite"), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    if not migrated:
        yield request.getfixturevalue("postgres_url")
        return
    template = request.getfixturevalue("migrated_postgres")
    with throwaway_database(request.getfixturevalue("later_drops"), template) as url:
        yield url


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    db = Database(database_url)
    await upgrade(db)
    try:
        yield db
    finally:
        await db.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["memory", "redis"])
async def expiring_store(request: pytest.FixtureRequest) -> AsyncIterator[ExpiringStore]:
    if request.param == "memory":
        yield MemoryStore()
        return
    from store.redis_kv import RedisStore

    prefix = f"yht-test:{secrets.token_hex(6)}:"
    url = request.getfixturevalue("redis_url")
    store = RedisStore.from_url(url, prefix)
    try:
        yield store
    finally:
        from redis.asyncio import Redis

        client = Redis.from_url(url)
        keys = [key async for key in client.scan_iter(match=prefix + "*", count=SCAN_COUNT)]
        if keys:
            await client.delete(*keys)
        await client.aclose()
        await store.close()


# -- settings and a live gateway ------------------------------------------------------------------


@pytest.fixture(params=["embedded", "services"])
def backend(request: pytest.FixtureRequest) -> str:
    """'embedded': SQLite + in-process store; 'services': PostgreSQL + Redis."""
    return request.param


@pytest.fixture
def settings_for(tmp_path: Path, request: pytest.FixtureRequest):
    """Build Settings on a fresh data directory for the given backend; ``snapshot``: start
    from a copy of that seed's data instead of the initialized one."""

    copies: dict[str, str] = {}  # snapshot database -> this test's copy
    started: list[Snapshot] = []  # the snapshot this test's storage came from, once chosen

    def copy_of(snapshot: Snapshot) -> str:
        if snapshot.database not in copies:
            made = throwaway_database(request.getfixturevalue("later_drops"), snapshot.database)
            copies[snapshot.database] = made.__enter__()
            request.addfinalizer(lambda: made.__exit__(None, None, None))
        return copies[snapshot.database]

    def build(
        backend: str = "embedded", snapshot: Snapshot | None = None, **overrides: object
    ) -> Settings:
        if snapshot is None and started:
            snapshot = started[0]  # later calls: the same storage
        elif snapshot is not None and not started:
            started.append(snapshot)
        data_dir = tmp_path / "var"
        values: dict[str, object] = {"data_dir": data_dir, "log_level": "WARNING"}
        # Unless the test chooses its own storage, it starts from an initialized copy.
        seeded = not {"data_dir", "database_url", "master_key_file", "signing_algs"} & set(
            overrides
        )
        if snapshot is not None and seeded and not data_dir.exists():
            shutil.copytree(snapshot.data_dir, data_dir)
        if backend == "services":
            if seeded and snapshot is not None:
                values["database_url"] = copy_of(snapshot)
            elif seeded:
                values["database_url"] = request.getfixturevalue("initialized_postgres_url")
                if not data_dir.exists():
                    _, template_dir = request.getfixturevalue("initialized_postgres")
                    _copy_master_key(template_dir, data_dir)
            else:
                values["database_url"] = request.getfixturevalue("postgres_url")
            values["redis_url"] = request.getfixturevalue("redis_url")
            values["redis_prefix"] = f"yht-test:{secrets.token_hex(6)}:"
        elif seeded and not data_dir.exists():
            shutil.copytree(request.getfixturevalue("initialized_embedded"), data_dir)
            (data_dir / "master.key").chmod(0o600)
        values.update(overrides)
        return Settings(**values)

    return build


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LiveServer:
    url: str
    settings: Settings
    app: object
    seeded: Any = None  # what the seed's build returned, when the test started from one

    @property
    def services(self):
        return self.app.state.services  # type: ignore[attr-defined]


class _ThreadedServer:
    """uvicorn in a thread of its own, driven through the Server's public steps (startup, ticks,
    connections, lifespan) so that ``stop`` lasts as long as the connections do: ``Server.run``
    notices an exit at its next tenth-of-a-second tick, and its shutdown sleeps another tenth."""

    STOP_SECONDS = 10

    def __init__(
        self, app: object, port: int, listener: socket.socket | None = None, **options: Any
    ) -> None:
        # ``listener``: a socket already bound to ``port``; ``options``: more uvicorn settings.
        self.listeners = [listener] if listener is not None else None
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_config=None,
            lifespan="on",
            **options,
        )
        self.server = uvicorn.Server(config)
        self.loop = (config.get_loop_factory() or asyncio.new_event_loop)()
        self.stopping = asyncio.Event()
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the gateway did not start") from self.failure
            time.sleep(0.005)

    def stop(self) -> None:
        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.stopping.set)
        self.thread.join(timeout=self.STOP_SECONDS)

    def _run(self) -> None:
        try:
            self.loop.run_until_complete(self._serve())
        except BaseException as error:  # SystemExit: uvicorn's answer to a failed startup
            self.failure = error
        finally:
            self.loop.close()

    async def _serve(self) -> None:
        server, config = self.server, self.server.config
        config.load()
        server.lifespan = config.lifespan_class(config)
        await server.on_tick(0)  # the Date header before the first request
        await server.startup(sockets=self.listeners)
        ticks = asyncio.create_task(self._tick())
        await self.stopping.wait()
        ticks.cancel()
        for listener in server.servers:
            listener.close()
        for connection in list(server.server_state.connections):
            connection.shutdown()  # closes idle keep-alive connections, ends the others
        try:
            async with asyncio.timeout(self.STOP_SECONDS):
                while server.server_state.connections or server.server_state.tasks:
                    await asyncio.sleep(0.005)
        except TimeoutError:  # a long poll still open: end it, and still shut the app down
            for task in list(server.server_state.tasks):
                task.cancel()
            await asyncio.gather(*server.server_state.tasks, return_exceptions=True)
        for listener in server.servers:
            await listener.wait_closed()
        await server.lifespan.shutdown()

    async def _tick(self) -> None:
        """uvicorn's main loop: the Date header once a second, and its own reasons to exit."""
        counter = 1
        while not await self.server.on_tick(counter):
            counter = (counter + 1) % 864000
            await asyncio.sleep(0.1)
        self.stopping.set()


@contextmanager
def running_gateway(
    settings_for,
    backend: str = "embedded",
    clock: Clock | None = None,
    span_exporter: Any = None,
    *,
    snapshot: Snapshot | None = None,
    **overrides: object,
):
    """The gateway on a real socket, served by uvicorn in a thread; ``clock``: its clock (with the
    embedded backend, a FakeClock moves every expiry without waiting); ``span_exporter``: traces
    on, each span handed to it; ``snapshot``: a built world to start from."""
    # Bound here and handed to uvicorn: a port only looked up could be taken by another test
    # before the server binds it.
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    if snapshot is not None:
        overrides["snapshot"] = snapshot
    try:
        settings = settings_for(backend, issuer=f"http://127.0.0.1:{port}", **overrides)
        app = create_app(settings, clock, span_exporter=span_exporter)
        server = _ThreadedServer(app, port, listener)
        server.start()
    except BaseException:
        listener.close()
        raise
    seeded = copy.deepcopy(snapshot.value) if snapshot is not None else None
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", settings, app, seeded)
    finally:
        server.stop()
        listener.close()


@dataclass
class Seed:
    """Data that tests start from: ``build`` writes it through the services opened on the
    settings it is given, and returns what the tests need to know of it (``LiveServer.seeded``)."""

    name: str
    build: Callable[[Settings], Awaitable[Any]]


@dataclass
class Snapshot:
    data_dir: Path
    database: str  # the PostgreSQL copies' template; "" on the embedded backend
    value: Any


class Snapshots:
    """Seeds built once per worker and backend on an initialized copy; each test that asks
    starts from a copy of the result (its data directory; its PostgreSQL database as a
    template, CREATE DATABASE ... TEMPLATE)."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory, later_drops: LaterDrops) -> None:
        self.tmp_path_factory = tmp_path_factory
        self.later_drops = later_drops
        self.made: dict[tuple[str, str], Snapshot] = {}

    def get(self, seed: Seed, backend: str, request: pytest.FixtureRequest) -> Snapshot:
        key = (seed.name, backend)
        if key not in self.made:
            self.made[key] = self._build(seed, backend, request)
        return self.made[key]

    def close(self) -> None:
        for snapshot in self.made.values():
            if snapshot.database:
                self.later_drops.drop(snapshot.database)

    def _build(self, seed: Seed, backend: str, request: pytest.FixtureRequest) -> Snapshot:
        data_dir = self.tmp_path_factory.mktemp(f"seed-{seed.name}") / "var"
        values: dict[str, object] = {"data_dir": data_dir, "log_level": "WARNING"}
        database = ""
        if backend == "services":
            template, template_dir = request.getfixturevalue("initialized_postgres")
            admin_url = need(TEST_DATABASE_URL, "YIHAOTONG_TEST_DATABASE_URL")
            database = f"yht_seed_{secrets.token_hex(6)}"
            admin_sql(f'CREATE DATABASE "{database}" TEMPLATE "{template}"')
            _copy_master_key(template_dir, data_dir)
            values["database_url"] = _database_in(admin_url, database)
            values["redis_url"] = request.getfixturevalue("redis_url")
            values["redis_prefix"] = f"yht-test:{secrets.token_hex(6)}:"
        else:
            shutil.copytree(request.getfixturevalue("initialized_embedded"), data_dir)
            (data_dir / "master.key").chmod(0o600)
        try:
            with ThreadPoolExecutor(1) as pool:
                value = pool.submit(asyncio.run, seed.build(Settings(**values))).result()
        except BaseException:
            if database:
                self.later_drops.drop(database)
            raise
        return Snapshot(data_dir, database, value)


@pytest.fixture(scope="session")
def snapshots(
    tmp_path_factory: pytest.TempPathFactory, later_drops: LaterDrops
) -> Iterator[Snapshots]:
    made = Snapshots(tmp_path_factory, later_drops)
    yield made
    made.close()


@pytest.fixture
def live_server(settings_for, backend: str, request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    """A live gateway; a test that asks for a ``seed`` (a fixture returning a ``Seed``) gets one
    started from a copy of that seed's data, built once per worker and backend."""
    snapshot = None
    if "seed" in request.fixturenames:
        seed = request.getfixturevalue("seed")
        snapshot = request.getfixturevalue("snapshots").get(seed, backend, request)
    with running_gateway(settings_for, backend, snapshot=snapshot) as server:
        yield server


# -- order: the slow tests first, one lane a worker ---------------------------------------------


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``slow`` start first, dealt in turn to the workers: pytest-xdist's worksteal
    hands each worker a contiguous share of this list, and an idle worker takes from the end of
    another's; a slow test left for the end would keep one worker busy alone."""
    slow = [item for item in items if item.get_closest_marker("slow")]
    if not slow:
        return
    rest = [item for item in items if not item.get_closest_marker("slow")]
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    ordered: list[pytest.Item] = []
    remaining = len(items)
    for lane in range(workers):
        share = remaining // (workers - lane)  # what worksteal sends this worker
        mine = slow[lane::workers]
        fill = max(0, share - len(mine))
        ordered += mine + rest[:fill]
        rest = rest[fill:]
        remaining -= len(mine) + fill
    items[:] = ordered + rest
