"""Batched audit entries survive what the database and the process do: a worker killed with
SIGKILL loses no ``token.issued`` entry of a token it answered, a database that refuses the
entries gets a few tries and the entries wait in the local spool (reported on /readyz), and
the spool is replayed once, without duplicates."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import stat
import subprocess
import time
from pathlib import Path

import asyncpg
import httpx
import pytest
from jose import jwt as jose_jwt
from sqlalchemy.engine import make_url

from gateway.identity.audit import AuditLog
from store.clock import SystemClock
from store.database import Database
from store.records import AuditEvent
from tests.conftest import CHEAP_HASHING, running_gateway
from tests.gateway.cli.test_cli import YIHAOTONG, in_process
from tests.gateway.helpers import service_client
from tests.support import free_port


def _plain(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _issued_jtis(url: str) -> list[str]:
    connection = await asyncpg.connect(_plain(url))
    try:
        rows = await connection.fetch(
            "SELECT details->>'jti' AS jti FROM audit_events WHERE event = 'token.issued'"
        )
    finally:
        await connection.close()
    return [row["jti"] for row in rows]


def _serve(env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    with log.open("ab") as sink:  # the child keeps its own descriptor
        process = subprocess.Popen(
            [YIHAOTONG, "serve", "--port", str(port), "--workers", "2"],
            env=env,
            stdout=sink,
            stderr=sink,
            start_new_session=True,  # its own process group: SIGKILL reaches every worker
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError("serve exited")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    raise AssertionError("serve did not become ready")


@pytest.mark.slow
async def test_a_killed_server_loses_no_entry_of_a_token_it_answered(
    tmp_path: Path, postgres_url: str
) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("YIHAOTONG_")}
    env |= CHEAP_HASHING | {
        "YIHAOTONG_DATA_DIR": str(tmp_path / "var"),
        "YIHAOTONG_ISSUER": f"http://127.0.0.1:{port}",
        "YIHAOTONG_DATABASE_URL": postgres_url,
    }
    log = tmp_path / "serve.log"
    server = _serve(env, port, log)
    try:
        command = in_process(tmp_path / "var", YIHAOTONG_DATABASE_URL=postgres_url)
        made = await asyncio.to_thread(
            command, "clients", "create", "--name", "统计上报", "--grant-type",
            "client_credentials", "--json",
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        client = json.loads(made.stdout)
        auth = (client["client_id"], client["client_secret"])
        answered: list[str] = []

        async def issue(http: httpx.AsyncClient) -> None:
            while True:
                try:
                    response = await http.post(
                        "/oauth/token", data={"grant_type": "client_credentials"}, auth=auth
                    )
                except httpx.TransportError:
                    return  # the server is gone
                if response.status_code == 200:
                    token = response.json()["access_token"]
                    answered.append(jose_jwt.get_unverified_claims(token)["jti"])

        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            burst = [asyncio.create_task(issue(http)) for _ in range(16)]
            while len(answered) < 300:  # well past the first batches: the burst is going
                await asyncio.sleep(0.01)
            os.killpg(server.pid, signal.SIGKILL)  # mid-burst, mid-batch
            server.wait(timeout=10)
            await asyncio.wait_for(asyncio.gather(*burst), 30)
        assert len(answered) >= 300

        server = _serve(env, port, log)  # replays what the killed workers left
        deadline = time.monotonic() + 30
        while True:
            recorded = await _issued_jtis(postgres_url)
            missing = set(answered) - set(recorded)
            if not missing or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        assert not missing, f"{len(missing)} of {len(answered)} answered tokens have no entry"
        assert len(recorded) == len(set(recorded)), "an entry was written twice"
        leftovers = list((tmp_path / "var" / "audit-spool").glob("seg-*.jsonl"))
        assert all(path.stat().st_size == 0 for path in leftovers), "the spool was not emptied"
    finally:
        _stop(server, log)


def _stop(server: subprocess.Popen, log: Path) -> None:
    """SIGINT, as an operator stops it; a server still running after 30 s is killed (never
    left to a later test) and the failure shows the end of its log."""
    if server.poll() is not None:
        return
    os.killpg(server.pid, signal.SIGINT)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
        tail = log.read_text(errors="replace")[-4000:]
        message = f"serve did not stop within 30 s of SIGINT; its log ends:\n{tail}"
        raise AssertionError(message) from None


_REFUSE = [
    "CREATE SEQUENCE audit_attempts",
    """CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM nextval('audit_attempts');
  RAISE EXCEPTION 'audit rows refused for this test';
END $$""",
    "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events "
    "FOR EACH STATEMENT EXECUTE FUNCTION refuse_audit()",
]


async def _attempts(connection: asyncpg.Connection) -> int:
    return await connection.fetchval("SELECT last_value FROM audit_attempts")


async def _ready_until(http: httpx.AsyncClient, done, seconds: float = 20) -> dict:
    deadline = time.monotonic() + seconds
    while True:
        ready = await http.get("/readyz")
        if done(ready) or time.monotonic() > deadline:
            return ready
        await asyncio.sleep(0.2)


@pytest.mark.slow
async def test_entries_the_database_refuses_wait_in_the_spool_and_are_replayed_once(
    settings_for,
) -> None:
    with running_gateway(settings_for, "services") as live:
        registered = await service_client(live.settings)
        auth = (registered.client.client_id, registered.client_secret)
        form = {"grant_type": "client_credentials"}
        database = await asyncpg.connect(_plain(live.settings.database_url))
        try:
            for statement in _REFUSE:
                await database.execute(statement)
            async with httpx.AsyncClient(base_url=live.url) as http:
                jtis = []
                for _ in range(5):
                    issued = await http.post("/oauth/token", data=form, auth=auth)
                    assert issued.status_code == 200
                    jtis.append(
                        jose_jwt.get_unverified_claims(issued.json()["access_token"])["jti"]
                    )
                ready = await _ready_until(
                    http, lambda r: r.json().get("audit_spool", {}).get("entries") == 5
                )
                body = ready.json()
                assert ready.status_code == 200, "entries on the local disk keep it serving"
                assert body["status"] == "degraded"
                assert body["audit_spool"]["entries"] == 5
                assert body["audit_spool"]["oldest_age_s"] >= 0
                assert body["checks"]["audit"].startswith("degraded")
                # A few tries a batch (the five may have made two), then no more.
                tried = await _attempts(database)
                assert 1 <= tried <= 6
                await asyncio.sleep(2.5)
                assert await _attempts(database) - tried <= 1  # at most one replay pass

                spool = live.settings.data_dir / "audit-spool"
                segments = [path for path in spool.glob("seg-*.jsonl") if path.stat().st_size]
                assert segments
                for path in segments:
                    assert stat.S_IMODE(path.stat().st_mode) == 0o600
                    assert registered.client_secret.encode() not in path.read_bytes()
                assert stat.S_IMODE(spool.stat().st_mode) == 0o700

                await database.execute("DROP TRIGGER refuse_audit ON audit_events")
                issued = await http.post("/oauth/token", data=form, auth=auth)  # written: replay
                jtis.append(jose_jwt.get_unverified_claims(issued.json()["access_token"])["jti"])
                ready = await _ready_until(http, lambda r: r.json()["audit_spool"]["entries"] == 0)
                assert ready.json()["status"] == "ready", ready.text
                assert ready.json()["audit_spool"] == {"entries": 0, "oldest_age_s": None}
        finally:
            await database.close()
        recorded = await _issued_jtis(live.settings.database_url)
        assert sorted(recorded) == sorted(jtis), "each entry once"


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
async def test_a_segment_replayed_after_its_batch_was_written_adds_nothing(
    database: Database, tmp_path: Path
) -> None:
    """A process that died after its batch committed but before its segment went: the replay
    meets entries already written and skips them, on both databases."""
    audit = AuditLog(database, SystemClock(), tmp_path)
    try:
        for n in range(3):
            audit.queue(AuditEvent("token.issued", actor=f"client-{n}", details={"jti": str(n)}))
        (live,) = tmp_path.glob("seg-*.jsonl")
        shutil.copy(live, tmp_path / "seg-0-0-0.jsonl")  # what a dead process would leave
        await audit.flush()
        await audit.replay()
        written = await audit.query(event="token.issued")
        assert sorted(event.details["jti"] for event in written) == ["0", "1", "2"]
        assert audit.backlog()["entries"] == 0
        assert list(tmp_path.glob("seg-*.jsonl")) == []
    finally:
        await audit.close()


async def test_no_token_is_answered_when_its_entry_cannot_be_kept(settings_for) -> None:
    """The spool cannot be written (here its directory is a file; a full or read-only disk
    alike): the token request gets a 503 to retry, and the instance is not ready."""
    with running_gateway(settings_for) as live:
        registered = await service_client(live.settings)
        (live.settings.data_dir / "audit-spool").write_text("not a directory")
        async with httpx.AsyncClient(base_url=live.url) as http:
            refused = await http.post(
                "/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=(registered.client.client_id, registered.client_secret),
            )
            ready = await http.get("/readyz")
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"] == "temporarily_unavailable"
    assert "access_token" not in refused.text
    assert ready.status_code == 503
    assert ready.json()["checks"]["audit"].startswith("unavailable: audit spool not writable")


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
async def test_a_flush_returns_after_the_batch_another_flush_is_writing(
    database: Database, tmp_path: Path
) -> None:
    """Closing an account flushes before it rewrites the account's entries: an entry the
    background flusher took a moment earlier must be in the database by then, not after."""
    audit = AuditLog(database, SystemClock(), tmp_path)
    try:
        audit.queue(AuditEvent("logout", actor="account-1"))
        writing = asyncio.ensure_future(audit.flush())
        await asyncio.sleep(0)  # the first flush has taken the batch and awaits the database
        await audit.flush()
        assert [event.actor for event in await audit.query(event="logout")] == ["account-1"]
        await writing
    finally:
        await audit.close()
