"""CAS ticket validation side by side: 一号通's ``/cas/p3/serviceValidate`` and
django-cas-server's, one worker each on core 0, wrk on core 1, each ticket validated once.

    python -m bench.cas [--tickets 30000] [--seconds 5]

Yihaotong runs as in production (``yihaotong serve``, Redis for tickets; SQLite holds only the
app, which is cached); django-cas-server under gunicorn (one sync worker) on SQLite, its
default. Tickets are minted beforehand by each side's own code, not counted."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
PEER_PROJECT = ROOT / "tests" / "providers" / "cas_server"
BIN = Path(sys.executable).parent
REDIS = "redis://127.0.0.1:6379/13"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_listening(port: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing listens on {port}") from None
            time.sleep(0.1)


def _forget_keys(prefix: str) -> None:
    """Remove this run's keys (only these: the Redis server is shared)."""
    import redis

    client = redis.Redis.from_url(REDIS)
    for key in client.scan_iter(match=f"{prefix}*", count=1000):
        client.delete(key)
    client.close()


def _yihaotong_env(work: Path, port: int, prefix: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("YIHAOTONG_")}
    return env | {
        "YIHAOTONG_DATA_DIR": str(work / "var"),
        "YIHAOTONG_ISSUER": f"http://127.0.0.1:{port}",
        "YIHAOTONG_REDIS_URL": REDIS,
        "YIHAOTONG_REDIS_PREFIX": prefix,
        "YIHAOTONG_CAS_TICKET_TTL": "300",
        "YIHAOTONG_LOG_LEVEL": "WARNING",
    }


async def _mint_ours(env: dict[str, str], service: str, count: int) -> list[str]:
    from gateway.cas.tickets import SERVICE_TICKET, Ticket, Tickets, new_ticket
    from gateway.server.services import open_services
    from gateway.server.settings import Settings

    os.environ.update(env)
    services = await open_services(Settings())
    try:
        account = await services.accounts.create_local(
            username="bench", password=secrets.token_urlsafe(16), name="测试"
        )
        _, session = services.sessions.new(account.id, ["pwd"], "L1", "bench", "127.0.0.1")
        await services.sessions.store(session)
        [client] = [c for c in await services.clients.list() if c.protocol == "cas"]
        tickets = Tickets(services.expiring, 300, 3600)
        values = [new_ticket(SERVICE_TICKET) for _ in range(count)]
        attributes = {"name": "测试", "preferred_username": "bench", "acr": "L1", "amr": ["pwd"]}
        for start in range(0, count, 50):
            await asyncio.gather(*(
                tickets.issue(value, Ticket(client.client_id, service, account.id, account.id,
                                            session.sid, True, attributes))
                for value in values[start:start + 50]
            ))  # fmt: skip
        return [urlencode({"service": service, "ticket": value}) for value in values]
    finally:
        await services.close()


def _wrk(url: str, tickets: Path, seconds: int) -> dict:
    command = ["taskset", "-c", "1", "wrk", "-t2", "-c16", f"-d{seconds}s", "--latency",
               "-s", str(HERE / "validate.lua"), url, "--", str(tickets), "2"]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    result["rate"] = round(result["successes"] / result["seconds"], 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=30000)
    parser.add_argument("--seconds", type=int, default=5)
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-cas-"))
    prefix = f"bench-cas-{secrets.token_hex(4)}:"
    processes: list[subprocess.Popen] = []
    try:
        ours_port, peer_port = free_port(), free_port()
        service = "https://estate.city.gov.cn/cas/login"
        env = _yihaotong_env(work, ours_port, prefix)
        subprocess.run([BIN / "yihaotong", "clients", "create", "--name", "bench", "--protocol",
                        "cas", "--service-url", service, "--json"],
                       env=env, check=True, capture_output=True)  # fmt: skip
        ours = work / "ours.txt"
        ours.write_text("\n".join(asyncio.run(_mint_ours(env, service, options.tickets))) + "\n")
        processes.append(subprocess.Popen(
            ["taskset", "-c", "0", BIN / "yihaotong", "serve", "--host", "127.0.0.1",
             "--port", str(ours_port), "--workers", "1"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))  # fmt: skip

        peer_env = os.environ | {
            "CAS_TEST_DIR": str(work),
            "PEER_PROJECT": str(PEER_PROJECT),
            "DJANGO_SETTINGS_MODULE": "peer_settings",
            "PYTHONPATH": f"{HERE}:{PEER_PROJECT}",
        }
        subprocess.run([sys.executable, "-m", "django", "migrate", "-v", "0"], env=peer_env,
                       check=True, capture_output=True)  # fmt: skip
        peer = work / "peer.txt"
        minted = subprocess.run(
            [sys.executable, str(HERE / "mint_peer.py"), service, str(options.tickets)],
            env=peer_env, check=True, capture_output=True, text=True)  # fmt: skip
        peer.write_text(minted.stdout)
        processes.append(subprocess.Popen(
            ["taskset", "-c", "0", BIN / "gunicorn", "--workers", "1", "--bind",
             f"127.0.0.1:{peer_port}", "--chdir", str(HERE), "peer_wsgi:application"],
            env=peer_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))  # fmt: skip
        wait_listening(ours_port)
        wait_listening(peer_port)
        time.sleep(1)
        results = {
            "yihaotong": _wrk(f"http://127.0.0.1:{ours_port}/cas/p3/serviceValidate", ours,
                              options.seconds),
            "django-cas-server": _wrk(f"http://127.0.0.1:{peer_port}/cas/p3/serviceValidate",
                                      peer, options.seconds),
        }  # fmt: skip
        results["ratio"] = round(results["yihaotong"]["rate"] /
                                 max(results["django-cas-server"]["rate"], 0.1), 2)  # fmt: skip
        print(json.dumps(results, indent=2))
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)
        _forget_keys(prefix)


if __name__ == "__main__":
    main()
