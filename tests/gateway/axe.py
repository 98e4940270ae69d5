"""Accessibility checks in the real browser: axe-core (bundled by axe-playwright-python) run on
the page as it stands, failing on any serious or critical WCAG 2.1 A/AA violation."""

from __future__ import annotations

from typing import Any

WCAG_21_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}
BLOCKING = {"serious", "critical"}


async def violations(page: Any) -> list[str]:
    """The serious and critical WCAG 2.1 AA violations on the page, one line each."""
    from axe_playwright_python.async_playwright import Axe

    results = await Axe().run(page, options={**WCAG_21_AA, "resultTypes": ["violations"]})
    return [
        f"{item['id']} ({item['impact']}): {node['target']}"
        for item in results.response["violations"]
        if item["impact"] in BLOCKING
        for node in item["nodes"]
    ]


async def assert_accessible(page: Any) -> None:
    found = await violations(page)
    assert found == [], f"axe-core on {page.url}: " + "; ".join(found)
