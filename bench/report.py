"""The table, the ratios and the targets."""

from __future__ import annotations

from typing import Any

from bench.runner import SCENARIOS, TOKEN_SCENARIOS

# Ratio Yihaotong/peer at one worker each on the same core, same signing algorithm. Discovery
# and the JWKS are measured but have no goal: relying parties cache them.
RATIO_TARGETS = {
    "client_credentials_rs256": 1.0,
    "client_credentials_es256": 1.2,
    "authorization_code": 1.2,
    "refresh_token": 1.2,
    "userinfo": 1.0,
    "introspection": 1.0,
    "authorize_prompt_none": 1.2,
}
# DPoP-bound (bench/dpop_twin.py) over bearer, the same scenario on the same server.
DPOP_TARGETS = {"refresh_token": 0.8, "userinfo": 0.8}
DPOP_SCENARIOS = ["authorization_code", "refresh_token", "userinfo"]
P99_SCENARIOS = [*TOKEN_SCENARIOS, "authorize_prompt_none"]
P99_LIMIT_MS = 50.0
LOGIN_SHARE = 0.9
# Keycloak's sizing guide: per vCPU, 15 password logins/s and 120 client-credentials or
# refresh requests/s; the issue asks for 2x and 8x that per core.
KEYCLOAK = {"password_login": 15.0, "client_credentials": 120.0, "refresh_token": 120.0}


def _find(results: list[dict[str, Any]], side: str, workers: int, scenario: str) -> dict | None:
    for entry in results:
        if (entry["side"], entry["workers"], entry["scenario"]) == (side, workers, scenario):
            return entry
    return None


def ratios(results: list[dict[str, Any]], workers_list: list[int]) -> list[dict[str, Any]]:
    rows = []
    for workers in workers_list:
        for scenario in SCENARIOS:
            ours = _find(results, "yihaotong", workers, scenario)
            peer = _find(results, "oidc-provider", workers, scenario)
            if ours is None:
                continue
            ratio = round(ours["rps"] / peer["rps"], 2) if peer and peer["rps"] else None
            ours_cpu = ours.get("server_cpu_ms_per_request")
            peer_cpu = peer.get("server_cpu_ms_per_request") if peer else None
            rows.append(
                {
                    "workers": workers,
                    "scenario": scenario,
                    "yihaotong": ours,
                    "peer": peer,
                    "ratio": ratio,
                    # Requests per CPU-second, ours over the peer's: steadier than req/s when
                    # other work shares the machine.
                    "cpu_ratio": round(peer_cpu / ours_cpu, 2) if ours_cpu and peer_cpu else None,
                }
            )
    return rows


def targets(rows: list[dict[str, Any]], logins: dict[str, Any] | None) -> list[dict[str, Any]]:
    checks = []
    for row in rows:
        if row["workers"] != 1:
            continue
        scenario, ratio = row["scenario"], row["ratio"]
        if ratio is not None and scenario in RATIO_TARGETS:
            goal = RATIO_TARGETS[scenario]
            checks.append(
                {"target": f"{scenario} >= {goal}x peer", "value": ratio, "met": ratio >= goal}
            )
        if scenario in P99_SCENARIOS:
            p99 = row["yihaotong"]["p99_ms"]
            check = {
                "target": f"{scenario} p99 < {P99_LIMIT_MS:g} ms",
                "value": p99,
                "met": p99 < P99_LIMIT_MS,
            }
            if row["yihaotong"].get("tcp_retransmits"):
                note = f"{row['yihaotong']['tcp_retransmits']} TCP retransmissions during the run"
                check["note"] = note
            checks.append(check)
        if scenario in ("client_credentials_rs256", "client_credentials_es256", "refresh_token"):
            base = KEYCLOAK[
                "refresh_token" if scenario == "refresh_token" else "client_credentials"
            ]
            per_core = row["yihaotong"]["rps"]
            checks.append(
                {
                    "target": f"{scenario} >= 8x Keycloak ({8 * base:g}/s per core)",
                    "value": round(per_core / base, 1),
                    "met": per_core >= 8 * base,
                }
            )
    if logins:
        share = logins["share_of_raw_verify"]
        checks.append(
            {
                "target": f"password logins >= {LOGIN_SHARE:.0%} of raw argon2id verify",
                "value": share,
                "met": share >= LOGIN_SHARE,
            }
        )
        per_core = logins["logins_per_s"]
        checks.append(
            {
                "target": f"password logins >= 2x Keycloak ({2 * KEYCLOAK['password_login']:g}/s)",
                "value": round(per_core / KEYCLOAK["password_login"], 2),
                "met": per_core >= 2 * KEYCLOAK["password_login"],
            }
        )
    return checks


def dpop_ratios(results: list[dict[str, Any]], workers_list: list[int]) -> list[dict[str, Any]]:
    rows = []
    for workers in workers_list:
        for scenario in DPOP_SCENARIOS:
            bearer = _find(results, "yihaotong", workers, scenario)
            dpop = _find(results, "yihaotong-dpop", workers, scenario)
            if bearer is None or dpop is None or not bearer["rps"]:
                continue
            bearer_cpu = bearer.get("server_cpu_ms_per_request")
            dpop_cpu = dpop.get("server_cpu_ms_per_request")
            rows.append(
                {
                    "workers": workers,
                    "scenario": scenario,
                    "bearer": bearer,
                    "dpop": dpop,
                    "ratio": round(dpop["rps"] / bearer["rps"], 2),
                    # Requests per CPU-second, DPoP over bearer: steadier on a shared machine.
                    "cpu_ratio": round(bearer_cpu / dpop_cpu, 2)
                    if bearer_cpu and dpop_cpu
                    else None,
                }
            )
    return rows


def dpop_targets(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    checks = []
    for row in rows:
        goal = DPOP_TARGETS.get(row["scenario"])
        if row["workers"] == 1 and goal is not None:
            value = row["ratio"]
            target = f"DPoP-bound {row['scenario']} >= {goal}x bearer"
            check = {"target": target, "value": value, "met": value >= goal}
            if row["cpu_ratio"] is not None:
                check["note"] = f"by CPU a request {row['cpu_ratio']}x"
            checks.append(check)
    return checks


def dpop_table(rows: list[dict[str, Any]]) -> str:
    return _side_by_side(rows, ("bearer", "bearer"), ("DPoP", "dpop"))


def _cells(entry: dict[str, Any] | None) -> str:
    if entry is None:
        return "– | – | – | –"
    cpu = entry.get("server_cpu_ms_per_request")
    return f"{entry['rps']:.0f} | {entry['p50_ms']:.1f} | {entry['p99_ms']:.1f} | " + (
        f"{cpu:.3f}" if cpu is not None else "–"
    )


def table(rows: list[dict[str, Any]]) -> str:
    return _side_by_side(rows, ("Yihaotong", "yihaotong"), ("oidc-provider", "peer"))


def _side_by_side(rows: list[dict[str, Any]], left: tuple[str, str], right: tuple[str, str]) -> str:
    """A markdown table of two sides' figures a row; each side a (heading, row key) pair."""
    head = (
        f"| w | scenario | {left[0]} req/s | p50 ms | p99 ms | CPU ms/req "
        f"| {right[0]} req/s | p50 ms | p99 ms | CPU ms/req | ratio req/s | ratio CPU |"
    )
    lines = [head, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        ratio = f"{row['ratio']:.2f}" if row["ratio"] is not None else "–"
        cpu_ratio = f"{row['cpu_ratio']:.2f}" if row.get("cpu_ratio") is not None else "–"
        lines.append(
            f"| {row['workers']} | {row['scenario']} | {_cells(row[left[1]])} "
            f"| {_cells(row[right[1]])} | {ratio} | {cpu_ratio} |"
        )
    return "\n".join(lines)


def target_lines(checks: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"- [{'x' if c['met'] else ' '}] {c['target']}: {c['value']}"
        + (f" ({c['note']})" if c.get("note") else "")
        for c in checks
    )


def main(path: str) -> None:
    """Print the table and targets of a results file again: python -m bench.report FILE."""
    import json
    from pathlib import Path

    document = json.loads(Path(path).read_text())
    rows = ratios(document["results"], document["options"]["workers"])
    print(table(rows))
    print()
    dpop = dpop_ratios(document["results"], document["options"]["workers"])
    if dpop:
        print()
        print(dpop_table(dpop))
    checks = targets(rows, document.get("password_logins")) + dpop_targets(dpop)
    print(target_lines(checks))


if __name__ == "__main__":
    import sys

    main(sys.argv[1])
