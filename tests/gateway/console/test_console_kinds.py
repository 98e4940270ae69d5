"""Every department login kind the gateway knows has a name on the console's pages, in both
languages (the pages look the name up by the kind)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from providers.registry import KINDS

LOCALES = Path(__file__).parents[3] / "gateway" / "pages" / "locales"


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_every_login_kind_has_a_console_label(locale: str) -> None:
    messages = json.loads((LOCALES / f"{locale}.json").read_text(encoding="utf-8"))
    assert [k for k in KINDS if f"console_provider_kind_{k}" not in messages] == []
