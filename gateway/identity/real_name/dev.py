"""The development backend: the ID number must carry a right GB 11643 check character, and the
person must be in a fixture list (a JSON file of ``{"name", "national_id", "network_id"}``
objects, or the built-in list below). Never for production: anyone can read the list."""

from __future__ import annotations

import hmac
import json
from pathlib import Path

from gateway.identity.real_name import CheckRequest, CheckResult
from policies.identifiers import national_id_problem, normalize_national_id

# Made-up people whose numbers carry right check characters (docs/real-name.md lists them).
BUILT_IN = (
    {"name": "张三", "national_id": "11010519491231002X", "network_id": "WH0000000001"},
    {"name": "李四", "national_id": "440304199003072013", "network_id": "WH0000000002"},
    {"name": "王五", "national_id": "310115198511201234", "network_id": ""},
)


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


class DevChecker:
    name = "dev"
    methods = frozenset({"id_pair", "network_id"})

    def __init__(self, fixtures_file: str = "") -> None:
        if fixtures_file:
            people = json.loads(Path(fixtures_file).read_text(encoding="utf-8"))
        else:
            people = list(BUILT_IN)
        self._people = [
            (p["name"].strip(), normalize_national_id(p["national_id"]), p.get("network_id", ""))
            for p in people
        ]

    async def check(self, request: CheckRequest) -> CheckResult:
        number = normalize_national_id(request.national_id)
        if national_id_problem(number) is not None or request.method not in self.methods:
            return CheckResult(False, "dev")
        for name, national_id, network_id in self._people:
            if not (_same(name, request.name.strip()) and _same(national_id, number)):
                continue
            if request.method == "network_id" and not (
                network_id and _same(network_id, request.evidence.strip())
            ):
                continue
            return CheckResult(True, f"dev:{request.reference}")
        return CheckResult(False, "dev")
