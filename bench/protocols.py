"""CAS ticket validation beside django-cas-server and the SAML SSO response, per core: the part
of ``python -m bench`` that runs after the OpenID scenarios and the sign-ins."""

from __future__ import annotations

from typing import Any

from bench import saml
from bench.cas import compare

NAMES = ("cas", "saml")
ROUNDS = 4  # CAS measurements a side, interleaved (2 with --quick)


def run(wanted: list[str], duration: float, quick: bool, log: Any = print) -> dict[str, Any]:
    """The protocols in ``wanted``; Yihaotong's tickets a round cover 3,000 validations a
    second, more than one core answers."""
    results: dict[str, Any] = {}
    if "cas" in wanted:
        log("CAS serviceValidate beside django-cas-server")
        tickets = int(3000 * (duration + 1))
        results["cas"] = compare.run(tickets, duration, 2 if quick else ROUNDS, log)
        cas = results["cas"]
        ours = cas["yihaotong"]
        log(f"  ratio {cas['ratio']} (CPU {cas['cpu_ratio']}), {ours['rate']}/s per core, "
            f"p99 {ours['p99_ms']} ms")  # fmt: skip
    if "saml" in wanted:
        log("SAML SSO responses")
        results["saml"] = saml.pinned(20 if quick else 200)
        made = results["saml"]
        log(f"  {made['rate_per_core']}/s per core, {made['cpu_ms_per_response']} ms CPU each, "
            f"p99 {made['p99_ms']} ms")  # fmt: skip
    return results


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    return compare.targets(results["cas"]) if "cas" in results else []


def table(results: dict[str, Any]) -> str:
    lines = []
    if "cas" in results:
        cas = results["cas"]
        lines += [
            "| CAS serviceValidate | req/s (median) | p50 ms | p99 ms | CPU ms/req | rounds |",
            "|---|---:|---:|---:|---:|---|",
        ]
        for side in (compare.OURS, compare.PEER):
            entry = cas[side]
            cpu = entry["cpu_ms_per_validation"]
            lines.append(
                f"| {side} | {entry['rate']:.0f} | {entry['p50_ms']:.1f} | {entry['p99_ms']:.1f} "
                f"| {'–' if cpu is None else f'{cpu:.3f}'} | {entry['rates']} |"
            )
        lines.append(
            f"\nCAS ratio (median rates, same core): {cas['ratio']}; by CPU time: "
            f"{cas['cpu_ratio']}; {cas.get('connections', 16)} connections"
        )
        for side in (compare.OURS, compare.PEER):
            if queued := cas[side].get("queued"):  # results from before carry none
                lines.append(
                    f"{side} at {queued['connections']} connections: {queued['rate']:.0f}/s, "
                    f"p99 {queued['p99_ms']:.1f} ms (median over it: {queued['full_rate_share']})"
                )
    if "saml" in results:
        made = results["saml"]
        lines.append(
            f"SAML SSO response on core {made['core']}: {made['rate_per_core']}/s, "
            f"{made['cpu_ms_per_response']} ms CPU, p50 {made['p50_ms']} ms, "
            f"p99 {made['p99_ms']} ms ({made['responses']} responses)"
        )
    return "\n".join(lines)
