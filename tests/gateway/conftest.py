"""Fixtures for the gateway's tests: a real Chromium (Debian's, driven by Playwright), and the
single sign-on tests' citizen with two apps (``world``; admin/ has its own)."""

from __future__ import annotations

import os
import shutil

import pytest
import pytest_asyncio

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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that asks for ``chromium`` runs in the worker's event loop, where the browser lives
    (Playwright's objects belong to the loop that started them)."""
    for item in items:
        if {"chromium", "chromium_browser"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.asyncio(loop_scope="session"), append=False)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def chromium_browser():
    """One Chromium per worker: launching Playwright's driver and the browser costs seconds,
    a fresh context per test (cookies, storage, permissions) costs little."""
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


@pytest_asyncio.fixture(loop_scope="session")
async def chromium(chromium_browser):
    """The worker's browser; each test opens its own contexts, closed after it whatever happens."""
    yield chromium_browser
    for context in chromium_browser.contexts:
        await context.close()


@pytest.fixture
def receiver():
    """A back-channel logout receiver on a socket of its own (tests/gateway/oauth/test_logout)."""
    from tests.gateway.oauth.test_logout import Receiver

    receiver = Receiver()
    receiver.server.start()
    try:
        yield receiver
    finally:
        receiver.server.stop()
