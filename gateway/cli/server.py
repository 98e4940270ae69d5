"""``init`` and ``serve``: a data directory, and the gateway running on it."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from gateway.cli.common import JsonFlag, emit, load_settings, run
from gateway.server.services import initialize


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
    )
