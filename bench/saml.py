"""The SAML SSO response's cost on one core: pysaml2 building, signing (Response and assertion,
RSA-SHA256 through ``xmlsec1``) and serialising the answer 一号通 POSTs to an SP, as
``gateway.saml.issue`` has it made, without the HTTP around it.

    taskset -c 0 python -m bench.saml [--responses 200]"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from saml2 import BINDING_HTTP_POST
from saml2.config import SPConfig
from saml2.metadata import entity_descriptor
from saml2.saml import NameID

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--responses", type=int, default=200)
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-saml-"))
    try:
        keys = idp.key_pair(work / "idp", "bench")
        issuer = "https://id.city.gov.cn"
        server = idp.build_server(idp.idp_config(issuer, keys, [_sp_metadata(work)]))
        identity = {"name": ["测试"], "preferred_username": ["bench"], "acr": ["L1"],
                    "amr": ["pwd"]}  # fmt: skip
        timings = []
        for number in range(options.responses + 5):
            started = time.perf_counter()
            server.create_authn_response(
                identity,
                in_response_to=f"id-{number}",
                destination=ACS,
                sp_entity_id=SP,
                name_id=NameID(format=idp.NAMEID_FORMAT_PERSISTENT, text="pairwise-subject"),
                authn={"class_ref": "L1", "authn_auth": issuer + idp.METADATA_PATH},
                sign_response=True,
                sign_assertion=True,
                **idp.signing(),
            )
            if number >= 5:  # the first few warm caches
                timings.append(time.perf_counter() - started)
        timings.sort()
        print(json.dumps({
            "responses": len(timings),
            "rate_per_core": round(len(timings) / sum(timings), 1),
            "p50_ms": round(statistics.median(timings) * 1000, 1),
            "p99_ms": round(timings[int(len(timings) * 0.99) - 1] * 1000, 1),
        }, indent=2))  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
