"""``python -m bench --only cas,saml`` at its smallest: both CAS servers validate the tickets
minted for them (rounds interleaved, then one a side at 16 connections), the ratio is made of
both sides' rates, and the SAML SSO responses are made and timed; all of it in the results file
and the printed report."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from pathlib import Path

import pytest

from bench.__main__ import main
from tests.conftest import TEST_DATABASE_URL, TEST_REDIS_URL, need
from tests.support import required

pytestmark = [pytest.mark.services, pytest.mark.slow]


def test_cas_beside_django_cas_server_and_the_saml_response_are_reported(
    capsys: pytest.CaptureFixture[str],
) -> None:
    need(TEST_DATABASE_URL, "YIHAOTONG_TEST_DATABASE_URL")
    need(TEST_REDIS_URL, "YIHAOTONG_TEST_REDIS_URL")
    for tool in ("wrk", "taskset", "psql", "xmlsec1"):
        required(shutil.which(tool) is not None, tool)
    required(importlib.util.find_spec("cas_server") is not None, "django-cas-server")
    required(importlib.util.find_spec("gunicorn") is not None, "gunicorn")

    assert main(["--only", "cas,saml", "--quick", "--duration", "1", "--label=-test"]) == 0
    printed = capsys.readouterr().out
    path = Path(__file__).parents[2] / re.findall(r"results in (\S+)", printed)[-1]
    try:
        document = json.loads(path.read_text())
    finally:
        path.unlink()

    assert document["results"] == []  # no OpenID scenario was asked for
    cas = document["protocols"]["cas"]
    for side in ("yihaotong", "django-cas-server"):
        assert len(cas[side]["rates"]) == cas["rounds"] == 2
        assert cas[side]["rate"] > 0, cas[side]
        assert cas[side]["successes"] > 0
        assert 0 < cas[side]["p50_ms"] <= cas[side]["p99_ms"]
        queued = cas[side]["queued"]
        assert queued["connections"] == 16 and queued["rate"] > 0 and queued["p99_ms"] > 0
        assert queued["full_rate_share"] == round(cas[side]["rate"] / queued["rate"], 2)
        assert f"{side} at 16 connections: {queued['rate']:.0f}/s" in printed
    assert cas["connections"] == 4
    assert cas["ratio"] == round(cas["yihaotong"]["rate"] / cas["django-cas-server"]["rate"], 2)
    cpu = {side: cas[side]["cpu_ms_per_validation"] for side in ("yihaotong", "django-cas-server")}
    assert cas["cpu_ratio"] == round(cpu["django-cas-server"] / cpu["yihaotong"], 2)
    targets = {check["target"]: check for check in document["targets"]}
    assert targets["CAS serviceValidate >= 3x django-cas-server"]["value"] == cas["ratio"]
    assert "CAS serviceValidate p99 < 50 ms" in targets

    made = document["protocols"]["saml"]
    assert made["responses"] == 20
    assert made["rate_per_core"] > 0
    assert 0 < made["p50_ms"] <= made["p99_ms"]
    assert made["cpu_ms_per_response"] > 0
    assert f"CAS ratio (median rates, same core): {cas['ratio']}" in printed
    assert "SAML SSO response on core 0" in printed
