"""The layout of docs/development.md, enforced: which package may import which, and no module of
gateway/ past the size a reader takes in at once."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support import parse_python

ROOT = Path(__file__).resolve().parent.parent
OURS = ("gateway", "keys", "policies", "providers", "store")
MAX_LINES = 400

# What each of our packages may import of ours (itself always).
ALLOWED = {
    "gateway": {"gateway", "keys", "policies", "providers", "store"},
    "keys": {"keys", "store"},
    "policies": {"policies"},
    "providers": {"providers"},
    "store": {"store"},
}
# Inside gateway/: the rooms identity/ must not reach, and the HTTP libraries it must not use.
HTTP_ROOMS = (
    "server",
    "oauth",
    "endpoints",
    "pages",
    "account",
    "admin",
    "console",
    "cli",
    "mobile",
    "cas",
    "saml",
)
HTTP_LIBRARIES = ("starlette", "uvicorn", "authlib", "httpx", "jinja2")


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every module a file imports, wherever the import stands (functions and TYPE_CHECKING
    blocks included: a type is a dependency too)."""
    tree = parse_python(path.read_text(encoding="utf-8"), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            # ``from gateway import admin`` imports the room, not the package's __init__ only.
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            raise AssertionError(f"{path}:{node.lineno}: relative import; spell the package")
    return sorted(found)


def _where(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("package", OURS)
def test_packages_import_only_what_the_layout_allows(package: str) -> None:
    wrong = [
        f"{_where(path)}:{line}: {name}"
        for path in _modules(package)
        for line, name in _imports(path)
        if name.split(".")[0] in OURS and name.split(".")[0] not in ALLOWED[package]
    ]
    assert wrong == []


def test_identity_imports_no_http_room_and_no_http_library() -> None:
    rooms = (*(f"gateway.{room}" for room in HTTP_ROOMS), "gateway.app")
    wrong = [
        f"{_where(path)}:{line}: {name}"
        for path in _modules("gateway/identity")
        for line, name in _imports(path)
        if name.startswith(rooms) or name.split(".")[0] in HTTP_LIBRARIES
    ]
    assert wrong == []


def test_the_rule_sees_a_forbidden_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from gateway.server.services import Services\n"
        "def f():\n"
        "    import starlette.requests\n"
        "from gateway import pages\n"
    )
    assert _imports(sample) == [
        (1, "typing"),
        (1, "typing.TYPE_CHECKING"),
        (3, "gateway.server.services"),
        (3, "gateway.server.services.Services"),
        (5, "starlette.requests"),
        (6, "gateway"),
        (6, "gateway.pages"),
    ]


def test_every_room_is_a_package() -> None:
    rooms = [p for p in (ROOT / "gateway").iterdir() if p.is_dir() and p.name != "__pycache__"]
    rooms = [p for p in rooms if any(p.glob("*.py"))]
    assert {p.name for p in rooms} == {*HTTP_ROOMS, "identity"}
    assert all((p / "__init__.py").exists() for p in rooms)


def test_no_module_of_gateway_is_longer_than_a_reader_takes_in() -> None:
    long = {
        _where(path): lines
        for path in _modules("gateway")
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}
