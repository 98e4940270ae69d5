"""The SAML SSO response's cost on one core: pysaml2 building, signing (Response and assertion,
RSA-SHA256 through ``xmlsec1``) and serialising the answer 一号通 POSTs to an SP, as
``gateway.saml.issue`` has it made, without the HTTP around it.

    taskset -c 0 python -m bench.saml [--responses 200]

``python -m bench`` runs it the same way (``pinned``), after its other scenarios."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from saml2 import BINDING_HTTP_POST
from saml2.config import SPConfig
from saml2.metadata import entity_descriptor
from saml2.saml import NAMEID_FORMAT_PERSISTENT, NameID

from gateway.saml import idp

SP = "https://estate.city.gov.cn/saml/metadata"
ACS = "https://estate.city.gov.cn/saml/acs"


def _sp_metadata(work: Path) -> str:
    key, cert = idp.key_pair(work / "sp", "sp")
    config = SPConfig().load({
        "entityid": SP, "key_file": str(key), "cert_file": str(cert),
        "xmlsec_binary": shutil.which("xmlsec1"),
        "service": {"sp": {"endpoints": {
            "assertion_consumer_service": [(ACS, BINDING_HTTP_POST)]}}},
    })  # fmt: skip
    return str(entity_descriptor(config))


def _cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def measure(responses: int) -> dict:
    """``responses`` SSO responses made one after another in this process, timed each."""
    work = Path(tempfile.mkdtemp(prefix="bench-saml-"))
    try:
        keys = idp.key_pair(work / "idp", "bench")
        issuer = "https://id.city.gov.cn"
        server = idp.build_server(idp.idp_config(issuer, keys, [_sp_metadata(work)]))
        identity = {"name": ["测试"], "preferred_username": ["bench"], "acr": ["L1"],
                    "amr": ["pwd"]}  # fmt: skip
        timings = []
        cpu_before = 0.0
        for number in range(responses + 5):
            if number == 5:
                cpu_before = _cpu_seconds()
            started = time.perf_counter()
            server.create_authn_response(
                identity,
                in_response_to=f"id-{number}",
                destination=ACS,
                sp_entity_id=SP,
                name_id=NameID(format=NAMEID_FORMAT_PERSISTENT, text="pairwise-subject"),
                authn={"class_ref": "L1", "authn_auth": issuer + idp.METADATA_PATH},
                sign_response=True,
                sign_assertion=True,
                **idp.signing(),
            )
            if number >= 5:  # the first few warm caches
                timings.append(time.perf_counter() - started)
        cpu = _cpu_seconds() - cpu_before
        timings.sort()
        return {
            "responses": len(timings),
            "rate_per_core": round(len(timings) / sum(timings), 1),
            # This process and its xmlsec1 children: steadier than the rate on a shared machine.
            "cpu_ms_per_response": round(cpu * 1000 / len(timings), 2),
            "p50_ms": round(statistics.median(timings) * 1000, 1),
            "p99_ms": round(timings[max(int(len(timings) * 0.99) - 1, 0)] * 1000, 1),
        }  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)


def pinned(responses: int, core: str = "0") -> dict:
    """``measure`` in a process of its own on one core (``xmlsec1``, started for each
    signature, inherits the pinning)."""
    command = ["taskset", "-c", core, sys.executable, "-m", "bench.saml",
               "--responses", str(responses)]  # fmt: skip
    out = subprocess.run(
        command, capture_output=True, text=True, check=True, cwd=Path(__file__).parent.parent
    ).stdout
    return {**json.loads(out), "core": core}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--responses", type=int, default=200)
    options = parser.parse_args(argv)
    print(json.dumps(measure(options.responses), indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
