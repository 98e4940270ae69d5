"""A certified relying-party library, panva's openid-client (v6, Node), completes the device
authorization grant against the gateway, with a client provisioned through the command line:
allowed (tokens, a verified ID token, UserInfo) and refused (access_denied)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gateway.cli import app as cli_app
from tests.conftest import REQUIRE_SERVICES, running_gateway
from tests.gateway.endpoints.test_device_grant import answer_at_device_page
from tests.gateway.helpers import second_instance

PEER = Path(__file__).parent / "device_client"
PASSWORD = "correct horse battery"


@pytest.fixture(scope="session")
def device_flow() -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        if REQUIRE_SERVICES:
            pytest.fail("node and npm are needed for the openid-client tests")
        pytest.skip("node is not installed")
    if not (PEER / "node_modules" / "openid-client").exists():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
            cwd=PEER, check=True, stdout=subprocess.DEVNULL, timeout=300,
        )  # fmt: skip
    return PEER / "device_flow.mjs"


def cli_create_kiosk(settings) -> str:
    """``yihaotong clients create`` as an operator would run it, against the gateway's storage."""
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("YIHAOTONG_")}
    env |= {"YIHAOTONG_DATA_DIR": str(settings.data_dir), "YIHAOTONG_ISSUER": settings.issuer}
    if settings.database_url:
        env["YIHAOTONG_DATABASE_URL"] = settings.database_url
    args = [
        "clients", "create", "--name", "政务大厅自助机", "--public",
        "--grant-type", "urn:ietf:params:oauth:grant-type:device_code",
        "--grant-type", "refresh_token", "--json",
    ]  # fmt: skip
    result = CliRunner().invoke(cli_app, args, env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.stderr or result.stdout
    return json.loads(result.stdout)["client_id"]


async def _line(process: asyncio.subprocess.Process) -> dict:
    assert process.stdout is not None
    raw = await asyncio.wait_for(process.stdout.readline(), 60)
    assert raw, "openid-client said nothing"
    message = json.loads(raw)
    assert "error" not in message, message["error"]
    return message


@pytest.mark.parametrize("decision", ["allow", "deny"])
async def test_openid_client_completes_the_device_flow(settings_for, device_flow, decision) -> None:
    with running_gateway(settings_for, device_poll_interval=1) as live:
        async with second_instance(live.settings) as admin:
            await admin.accounts.create_local(username="zhang", password=PASSWORD, name="张伟")
        client_id = await asyncio.to_thread(cli_create_kiosk, live.settings)
        process = await asyncio.create_subprocess_exec(
            "node", str(device_flow), live.settings.issuer, client_id,
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            codes = await _line(process)
            assert codes["verification_uri"] == live.url + "/device"
            browser = await answer_at_device_page(live.url, codes["user_code"], decision)
            await browser.close()
            outcome = await _line(process)
        finally:
            if process.returncode is None:
                process.kill()
            await process.wait()
    if decision == "allow":
        result = outcome["result"]
        assert result["name"] == "张伟" and result["amr"] == ["pwd"]
        assert result["token_type"].lower() == "bearer" and result["refresh"] is True
    else:
        assert outcome == {"refused": "access_denied"}
