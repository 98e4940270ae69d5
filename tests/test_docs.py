"""The documentation holds together: the generated pages (configuration, command line) name every
setting and command and match what ``scripts/gen_docs.py`` writes today, and every relative link
of the README and docs/ leads to a file, and to a heading of it when it names one."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer

from gateway.cli import app
from gateway.server.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


def command_paths() -> list[str]:
    found = []

    def walk(command: Any, path: list[str]) -> None:
        found.append(" ".join(["yihaotong", *path]))
        if hasattr(command, "list_commands"):
            context = typer.Context(command)
            for name in command.list_commands(context):
                walk(command.get_command(context, name), [*path, name])

    walk(typer.main.get_command(app), [])
    return found


def test_every_setting_is_in_the_configuration_page() -> None:
    page = (DOCS / "configuration.md").read_text(encoding="utf-8")
    missing = [
        name for name in Settings.model_fields if f"| `YIHAOTONG_{name.upper()}` |" not in page
    ]
    assert missing == [], "run python scripts/gen_docs.py"


def test_every_command_is_in_the_cli_page() -> None:
    page = (DOCS / "cli.md").read_text(encoding="utf-8")
    paths = command_paths()
    assert len(paths) > 20  # the walk reached the groups' commands
    missing = [path for path in paths if f"$ {path} --help\n" not in page]
    assert missing == [], "run python scripts/gen_docs.py"


@pytest.mark.slow
def test_generated_pages_match_the_code() -> None:
    # A process of its own: the generator fixes the terminal width before Typer is imported.
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_docs.py"), "--check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    found: set[str] = set()
    for heading in re.findall(r"^#{1,6} (.+)$", without_fences(page), flags=re.M):
        base = slug(heading)
        name, n = base, 0
        while name in found:
            n += 1
            name = f"{base}-{n}"
        found.add(name)
    return found


def without_fences(page: Path) -> str:
    return re.sub(r"^```.*?^```", "", page.read_text(encoding="utf-8"), flags=re.S | re.M)


def without_code(page: Path) -> str:
    return re.sub(r"`[^`\n]*`", "", without_fences(page))


def test_every_relative_link_leads_somewhere() -> None:
    broken = []
    for page in PAGES:
        for target in LINK.findall(without_code(page)):
            if re.match(r"[a-z][a-z0-9+.-]*:", target):
                continue  # http:, https:, mailto:
            path, _, anchor = target.partition("#")
            file = (page.parent / path).resolve() if path else page
            if not file.exists():
                broken.append(f"{page.name}: {target}")
            elif anchor and file.suffix == ".md" and anchor not in anchors(file):
                broken.append(f"{page.name}: {target} (no such heading)")
    assert broken == []


def test_the_link_check_sees_links_and_headings() -> None:
    readme = ROOT / "README.md"
    assert len(LINK.findall(without_code(readme))) >= 8
    assert slug("Admin REST API (`/admin/api/v1`)") == "admin-rest-api-adminapiv1"
    assert "who-may-do-what-where" in anchors(DOCS / "administration.md")
    assert "admin-rest-api-adminapiv1" in anchors(DOCS / "administration.md")
