"""The wording rule of docs/development.md ("Words on the pages"), checked on both locale files:
the same keys, 您 and 账号 in Chinese with full-width punctuation, no Chinese punctuation in
English, and templates that join values with the locale's own separators."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from gateway.pages.render import HERE

LOCALES = {
    name: json.loads((HERE / "locales" / f"{name}.json").read_text()) for name in ("zh-CN", "en")
}
CJK = r"[\u4e00-\u9fff]"
ASCII_BETWEEN_CHINESE = re.compile(rf"{CJK}\s*[,:;()!?]|[,:;()!?]\s*{CJK}")
CHINESE_PUNCTUATION = re.compile("[，。：；、（）“”《》！？]")


def test_both_languages_have_the_same_keys() -> None:
    assert set(LOCALES["zh-CN"]) == set(LOCALES["en"])


@pytest.mark.parametrize(("key", "text"), sorted(LOCALES["zh-CN"].items()))
def test_chinese_says_nin_and_zhanghao_with_full_width_punctuation(key: str, text: str) -> None:
    assert "你" not in text and "账户" not in text
    assert not ASCII_BETWEEN_CHINESE.search(text), f"ASCII punctuation in {key}: {text}"


@pytest.mark.parametrize(("key", "text"), sorted(LOCALES["en"].items()))
def test_english_has_no_chinese_punctuation(key: str, text: str) -> None:
    assert not CHINESE_PUNCTUATION.search(text), f"Chinese punctuation in {key}: {text}"


@pytest.mark.parametrize("template", sorted((HERE / "templates").glob("*.html")), ids=str)
def test_templates_put_no_punctuation_between_a_label_and_its_value(template: Path) -> None:
    text = template.read_text(encoding="utf-8")
    assert not re.search(r"\}\}\s*[:：]\s*\{[{%]", text), "use {{ t.colon }}"
    assert "、" not in text, "use {{ t.list_separator }}"
