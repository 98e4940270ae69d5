"""``init`` and ``serve``: a data directory, and the gateway running on it."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Annotated

import typer

from gateway.cli.common import JsonFlag, emit, load_settings, run
from gateway.server.services import initialize

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"


def metrics_directory(data_dir: Path) -> Path:
    """The workers' shared metric files (prometheus-client's multiprocess mode): a directory
    of this server's own, emptied at start, as prometheus-client requires."""
    directory = data_dir / "metrics"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(mode=0o700, parents=True)
    return directory


def init(as_json: JsonFlag = False) -> None:
    """Create DATA_DIR, the database schema, the master key and the first signing keys."""
    settings = load_settings()
    created = run(lambda: initialize(settings))
    master = str(settings.resolved_master_key_file)
    emit(
        as_json,
        {
            "data_dir": str(settings.data_dir),
            "master_key_file": master,
            "master_key_created": created,
        },
        [
            f"data directory: {settings.data_dir}",
            f"master key: {master} ({'created' if created else 'kept'}) — back it up; "
            "without it the signing keys cannot be opened",
            "database schema: up to date",
        ],
    )


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Run the gateway (runs init first when needed)."""
    import uvicorn

    from gateway.server.logs import configure_logging

    settings = load_settings()
    configure_logging(settings.log_level)
    log = logging.getLogger("yihaotong")
    for warning in settings.unsafe_defaults(workers):
        log.warning("unsafe default: %s", warning)
    run(lambda: initialize(settings))
    if workers > 1 and not os.environ.get(MULTIPROCESS_DIR):
        os.environ[MULTIPROCESS_DIR] = str(metrics_directory(settings.data_dir))
    log.info(
        "serving",
        extra={
            "fields": {
                "issuer": settings.issuer,
                "listen": f"http://{host}:{port}",
                "workers": workers,
            }
        },
    )
    uvicorn.run(
        "gateway.server.app:create_app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        server_header=False,
        # A worker still importing on a busy machine answers the supervisor's ping late; at
        # uvicorn's 5 s it is killed and replaced, again and again, and never serves.
        timeout_worker_healthcheck=60,
    )
