"""Fixtures of the CAS server's tests: a live gateway with a citizen, the ``yihaotong`` command
pointed at it (apps are provisioned the way an operator would), and a scripted browser."""

from __future__ import annotations

import asyncio
import json
import os

import pytest
from typer.testing import CliRunner

from gateway.cli import app as cli_app
from tests.gateway.browser import Browser
from tests.gateway.helpers import second_instance

PASSWORD = "correct horse battery"


class Command:
    """``yihaotong`` run in this process against the live gateway's database."""

    def __init__(self, settings) -> None:
        unset = {k: None for k in os.environ if k.startswith("YIHAOTONG_")}
        self.env = unset | {
            "YIHAOTONG_DATA_DIR": str(settings.data_dir),
            "YIHAOTONG_LOG_LEVEL": "WARNING",
        }
        if settings.database_url:
            self.env["YIHAOTONG_DATABASE_URL"] = settings.database_url
        if settings.redis_url:
            self.env["YIHAOTONG_REDIS_URL"] = settings.redis_url
            self.env["YIHAOTONG_REDIS_PREFIX"] = settings.redis_prefix

    def _run(self, args: tuple[str, ...], stdin: str | None) -> dict:
        result = CliRunner().invoke(cli_app, list(args), input=stdin, env=self.env)
        assert result.exit_code == 0, result.stderr or result.stdout
        return json.loads(result.stdout) if "--json" in args else {}

    async def __call__(self, *args: str, stdin: str | None = None) -> dict:
        # The command runs its own event loop: in a thread, beside the test's.
        return await asyncio.to_thread(self._run, args, stdin)

    async def cas_app(self, name: str, *service_urls: str, options: tuple[str, ...] = ()) -> dict:
        """A CAS app; public subjects unless ``options`` say otherwise (these tests read the
        CAS ``user`` as the account id)."""
        urls = [part for url in service_urls for part in ("--service-url", url)]
        if "--subject-type" not in options:
            options = ("--subject-type", "public", "--subject-type-reason", "test", *options)
        return await self("clients", "create", "--name", name, "--protocol", "cas", *urls,
                          *options, "--json")  # fmt: skip


@pytest.fixture
async def cas_world(live_server):
    async with second_instance(live_server.settings) as admin:
        account = await admin.accounts.create_local(
            username="wang", password=PASSWORD, name="王小明", email="wang@example.gov.cn"
        )
    browser = Browser(live_server.url)
    try:
        yield {
            "live": live_server,
            "account": account,
            "command": Command(live_server.settings),
            "browser": browser,
        }
    finally:
        await browser.close()
