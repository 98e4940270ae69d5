"""The kit is installed alone, beside a department's API: it imports nothing of the gateway's."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support import parse_python
from tests.test_layout import OURS

KIT = Path(__file__).resolve().parents[2] / "kits" / "python" / "src" / "yihaotong_resource"


def test_the_kit_imports_only_itself_and_its_declared_dependencies() -> None:
    found = []
    for path in sorted(KIT.rglob("*.py")):
        for node in ast.walk(parse_python(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found += [(path.name, alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                found.append((path.name, node.module))
    assert found, "the kit's modules were read"
    ours = [(name, module) for name, module in found if module.split(".")[0] in OURS]
    assert not ours, f"the kit imports the gateway's packages: {ours}"
