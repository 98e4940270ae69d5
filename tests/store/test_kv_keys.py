"""Every key of the expiring store is spelt in ``store/kv_keys.py`` and nowhere else: a key
written in one place and cleared in another can no longer drift apart (the admin's unlock once
cleared ``fail-user:<name>`` while department sign-ins were counted under another name)."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

from store import kv_keys
from store.kv import ExpiringStore
from tests.support import parse_python

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("gateway", "store", "keys", "policies", "providers")
BACKENDS = {"store/kv_keys.py", "store/kv.py", "store/memory.py", "store/redis_kv.py"}
STORE_METHODS = {
    name for name, _ in inspect.getmembers(ExpiringStore, inspect.isfunction) if name[0] != "_"
}
# Names the expiring store goes by where it is used.
STORE_NAMES = {"expiring", "_expiring", "store", "_store"}


def _prefixes() -> set[str]:
    """What each key kind starts with, taken from kv_keys itself."""
    found = set()
    for _, function in inspect.getmembers(kv_keys, inspect.isfunction):
        if function.__module__ == kv_keys.__name__:
            arguments = ["x"] * len(inspect.signature(function).parameters)
            found.add(function(*arguments).split(":")[0] + ":")
    return found


def _sources() -> list[tuple[str, ast.Module]]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if relative not in BACKENDS and "/migrations/" not in relative:
                found.append((relative, parse_python(path.read_text(encoding="utf-8"))))
    return found


def _text_of(node: ast.expr) -> str | None:
    """The literal start of a str constant or f-string, else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr) and node.values:
        first = node.values[0]
        return first.value if isinstance(first, ast.Constant) else ""
    return None


def _receiver(node: ast.expr) -> str | None:
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return None


def test_no_call_to_the_expiring_store_spells_a_key() -> None:
    spelt = []
    for relative, tree in _sources():
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            method, receiver = node.func.attr, _receiver(node.func.value)
            if method in STORE_METHODS and receiver in STORE_NAMES:
                keys = node.args
                if any(_text_of(arg) is not None for arg in keys):
                    spelt.append(f"{relative}:{node.lineno}")
    assert spelt == [], "use a function of store/kv_keys.py for these keys"


def test_no_string_outside_kv_keys_starts_like_a_key() -> None:
    prefixes = _prefixes()
    assert {"sso:", "fail-user:", "fail-device:", "authz:", "code:"} <= prefixes
    spelt = []
    for relative, tree in _sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant | ast.JoinedStr):
                text = _text_of(node)
                if text and any(text.startswith(prefix) for prefix in prefixes):
                    spelt.append(f"{relative}:{node.lineno}: {text!r}")
    assert spelt == []


def test_names_are_hashed_and_kinds_kept_apart() -> None:
    assert "wang" not in kv_keys.name_failures("wang")
    assert kv_keys.name_failures("tax:wang") != kv_keys.name_failures("wang")
    kinds = [
        kv_keys.session("a"),
        kv_keys.session_seen("a"),
        kv_keys.session_clients("a"),
        kv_keys.sessions_of("a"),
        kv_keys.transaction("a"),
        kv_keys.authorization_code("a"),
        kv_keys.upstream_state("a"),
        kv_keys.opaque_access_token("a"),
        kv_keys.revoked_access_token("a"),
        kv_keys.ended_session("a"),
        kv_keys.address_failures("a"),
        kv_keys.device_failures("a"),
        kv_keys.otp_failures("a"),
    ]
    assert len(set(kinds)) == len(kinds)
