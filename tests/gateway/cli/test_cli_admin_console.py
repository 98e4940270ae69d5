"""The first administrator of docs/administration.md, from the command line to the admin API:
the console made by ``clients create --admin-console`` works, an app given the admin scopes
without it does not."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import httpx

from tests.conftest import running_gateway
from tests.gateway.browser import Browser
from tests.gateway.cli.test_cli import in_process

PASSWORD = "correct horse battery"
CALLBACK = "https://admin.example.gov.cn/cb"


def run(tmp_path: Path, *args: str, stdin: str | None = None) -> dict:
    # A thread of its own: the command runs its own event loop, and this test's is running.
    command = in_process(tmp_path / "var")
    with ThreadPoolExecutor(1) as thread:
        result = thread.submit(command, *args, "--json", stdin=stdin).result()
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


async def admin_token(base: str, client: dict) -> httpx.Response:
    """Root signs in to ``client`` asking for the admin scopes (consenting on the page)."""
    params = {
        "response_type": "code",
        "client_id": client["client_id"],
        "redirect_uri": CALLBACK,
        "scope": "openid admin:read admin:write",
        "state": "s",
        "nonce": "n",
    }
    browser = Browser(base)
    try:
        arrival = await browser.go(
            f"{base}/oauth/authorize?{urlencode(params)}", username="root", password=PASSWORD
        )
    finally:
        await browser.close()
    code = httpx.URL(arrival.headers["location"]).params["code"]
    async with httpx.AsyncClient(base_url=base) as http:
        tokens = await http.post(
            "/oauth/token",
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK},
            auth=(client["client_id"], client["client_secret"]),
        )
        assert tokens.status_code == 200, tokens.text
        bearer = {"Authorization": f"Bearer {tokens.json()['access_token']}"}
        return await http.get("/admin/api/v1/keys", headers=bearer)


async def test_the_readme_admin_console_from_the_command_line(settings_for, tmp_path) -> None:
    run(tmp_path, "users", "create", "--username", "root", "--password-stdin", stdin=PASSWORD)
    run(tmp_path, "admin", "grant", "root", "--scope", "admin:read", "--scope", "admin:write")
    scopes = ["--scope", "admin:read", "--scope", "admin:write", "--redirect-uri", CALLBACK]
    console = run(tmp_path, "clients", "create", "--name", "管理控制台", *scopes, "--admin-console")
    assert console["admin_console"] is True
    other = run(tmp_path, "clients", "create", "--name", "报表工具", *scopes)
    assert other["admin_console"] is False
    listed = run(tmp_path, "clients", "list")["clients"]
    assert {c["client_name"]: c["admin_console"] for c in listed} == {
        "一号通管理控制台": True,  # the built-in console's own app, made by init
        "管理控制台": True,
        "报表工具": False,
    }
    with running_gateway(settings_for) as live:
        assert (await admin_token(live.url, console)).status_code == 200
        refused = await admin_token(live.url, other)
        assert refused.status_code == 401
        assert "designated for administration" in refused.json()["detail"]
