"""Writes the generated half of docs/configuration.md (from the Settings' field descriptions) and
docs/cli.md (from each command's ``--help``). Each page keeps what stands above its marker line;
everything below is replaced. ``--check`` writes nothing and exits 1 when a page is stale.

    .venv/bin/python scripts/gen_docs.py [--check]
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

# Typer reads the terminal's width and colours when it is imported: fix them first, so the
# pages come out the same on every machine.
os.environ.update({"TERMINAL_WIDTH": "100", "COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"})
os.environ.pop("FORCE_COLOR", None)

import typer
from annotated_types import Ge, Gt, Le, Lt
from pydantic.fields import FieldInfo
from typer.testing import CliRunner

from gateway.cli import app
from gateway.server.settings import Settings

DOCS = Path(__file__).resolve().parents[1] / "docs"
MARKER = "<!-- Generated below by scripts/gen_docs.py: do not edit by hand. -->"


def _default(field: FieldInfo) -> str:
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    if isinstance(value, list):
        return f"`{','.join(str(item) for item in value)}`"
    return f"`{value}`"


def _bounds(field: FieldInfo) -> str:
    words = {Ge: ("ge", "at least"), Gt: ("gt", "more than"), Le: ("le", "at most")}
    words[Lt] = ("lt", "less than")
    parts = []
    for rule in field.metadata:
        for kind, (attribute, word) in words.items():
            if isinstance(rule, kind):
                parts.append(f"{word} {getattr(rule, attribute)}")
    return f" ({'; '.join(parts)})" if parts else ""


def configuration() -> str:
    """The table of every setting: variable, default, description with its bounds."""
    prefix = Settings.model_config.get("env_prefix", "")
    lines = ["| Variable | Default | Meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        if not field.description:
            raise SystemExit(f"Settings.{name} has no description")
        meaning = (field.description + _bounds(field)).replace("|", "\\|")
        lines.append(f"| `{prefix}{name.upper()}` | {_default(field)} | {meaning} |")
    return "\n".join(lines) + "\n"


def commands() -> list[list[str]]:
    """Every command path, groups before their commands, in the order ``--help`` lists them."""
    found: list[list[str]] = []

    def walk(command: Any, path: list[str]) -> None:
        found.append(path)
        if hasattr(command, "list_commands"):  # a group
            context = typer.Context(command)
            for name in command.list_commands(context):
                walk(command.get_command(context, name), [*path, name])

    walk(typer.main.get_command(app), [])
    return found


def cli() -> str:
    """Each command's ``--help`` output, as Typer prints it."""
    runner = CliRunner()
    sections = []
    for path in commands():
        result = runner.invoke(app, [*path, "--help"], prog_name="yihaotong", color=False)
        if result.exit_code != 0:
            raise SystemExit(f"yihaotong {' '.join(path)} --help failed: {result.output}")
        body = "\n".join(line.rstrip() for line in result.output.strip("\n").splitlines())
        title = " ".join(["yihaotong", *path])
        sections.append(f"## `{title}`\n\n```\n$ {title} --help\n{body}\n```\n")
    return "\n".join(sections)


PAGES = {"configuration.md": configuration, "cli.md": cli}


def render(page: str) -> str:
    """The page as it should be: its hand-written head, the marker, the generated part."""
    text = (DOCS / page).read_text(encoding="utf-8")
    if MARKER not in text:
        raise SystemExit(f"docs/{page} has no marker line: {MARKER}")
    head = text.split(MARKER, 1)[0]
    return f"{head}{MARKER}\n\n{PAGES[page]()}"


def main(argv: list[str]) -> int:
    stale = []
    for page in PAGES:
        wanted = render(page)
        if (DOCS / page).read_text(encoding="utf-8") != wanted:
            stale.append(page)
            if "--check" not in argv:
                (DOCS / page).write_text(wanted, encoding="utf-8")
    if stale and "--check" in argv:
        print(f"stale: {', '.join(stale)}; run python scripts/gen_docs.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
