"""The ``yihaotong`` command run in this process against a live gateway's storage, to provision
it as an operator would."""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

from typer.testing import CliRunner

from gateway.cli import app
from tests.conftest import LiveServer


def cli_of(live: LiveServer):
    settings = live.settings
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("YIHAOTONG_")}
    env |= {
        "YIHAOTONG_DATA_DIR": str(settings.data_dir),
        "YIHAOTONG_LOG_LEVEL": "WARNING",
        "YIHAOTONG_ISSUER": settings.issuer,
    }
    if settings.database_url:
        env["YIHAOTONG_DATABASE_URL"] = settings.database_url
    if settings.redis_url:
        env["YIHAOTONG_REDIS_URL"] = settings.redis_url
        env["YIHAOTONG_REDIS_PREFIX"] = settings.redis_prefix
    runner = CliRunner()

    def invoke(args: list[str]) -> Any:
        # In a thread: the command runs its own event loop.
        return runner.invoke(app, args, env=env, catch_exceptions=False)

    async def run(*args: str) -> Any:
        """The command's JSON output; fails the test when the command fails."""
        result = await asyncio.to_thread(invoke, [*args, "--json"])
        assert result.exit_code == 0, result.stderr or result.stdout
        return json.loads(result.stdout)

    async def refused(*args: str) -> str:
        result = await asyncio.to_thread(invoke, list(args))
        assert result.exit_code != 0, result.stdout
        return result.stderr

    run.refused = refused  # type: ignore[attr-defined]
    return run
