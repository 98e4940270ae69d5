"""Fixtures of the SAML IdP's tests: a live gateway with a citizen, the ``yihaotong`` command
pointed at it, a scripted browser, and pysaml2 service providers registered through the CLI."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tests.gateway.browser import Browser
from tests.gateway.cas.conftest import PASSWORD, Command
from tests.gateway.helpers import second_instance
from tests.support import required

__all__ = ["PASSWORD"]


@pytest.fixture
async def saml_world(live_server, tmp_path):
    from tests.gateway.saml import service_provider

    required(service_provider.available(), "pysaml2 and xmlsec1 (pip install '.[saml]')")
    async with second_instance(live_server.settings) as admin:
        account = await admin.accounts.create_local(
            username="wang", password=PASSWORD, name="王小明", email="wang@example.gov.cn"
        )
    browser = Browser(live_server.url)
    command = Command(live_server.settings)
    made = []

    async def service_provider_for(name: str, **options) -> tuple:
        sp = service_provider.ServiceProvider(tmp_path / f"sp{len(made)}", **options)
        made.append(sp)
        metadata = tmp_path / f"sp{len(made)}.xml"
        metadata.write_text(sp.metadata(), encoding="utf-8")
        registered = await command("clients", "create", "--name", name, "--protocol", "saml",
                                   "--sp-metadata", str(metadata), "--json")  # fmt: skip
        # The first read after a registration builds the IdP anew: slow on a loaded machine.
        idp_metadata = await browser.http.get("/saml/metadata", timeout=30)
        assert idp_metadata.status_code == 200
        sp.trust(idp_metadata.text)
        await known_to_gateway(sp)
        return sp, registered

    async def known_to_gateway(sp) -> None:
        # An unknown SP makes the gateway read the apps again, at most once a second: ask as
        # this SP (from a browser of its own, not signed in) until the gateway knows it.
        _, info = sp.login_request(service_provider.BINDING_HTTP_REDIRECT)
        location = dict(info["headers"])["Location"]
        deadline = time.monotonic() + 30
        async with httpx.AsyncClient() as http:
            while (answer := await http.get(location)).status_code == 400:
                assert time.monotonic() < deadline, answer.text
                await asyncio.sleep(0.1)
        assert answer.status_code == 303, answer.text

    try:
        yield {
            "live": live_server,
            "account": account,
            "command": command,
            "browser": browser,
            "service_provider": service_provider_for,
        }
    finally:
        await browser.close()
        for sp in made:
            sp.close()
