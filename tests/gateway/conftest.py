"""Fixtures for the gateway's tests: a real Chromium (Debian's, driven by Playwright), and the
single sign-on tests' citizen with two apps (``world``; admin/ has its own)."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.conftest import REQUIRE_SERVICES
from tests.gateway.sso import world  # noqa: F401 (the fixture)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps calling out, and this network is closed.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture
async def chromium():
    playwright_api = pytest.importorskip("playwright.async_api")
    if not os.path.exists(CHROMIUM):
        if REQUIRE_SERVICES:
            pytest.fail("Debian's chromium is required (apt-get install chromium)")
        pytest.skip("chromium is not installed")
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            await browser.close()
