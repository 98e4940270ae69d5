"""The city-morning bench (``python -m bench --city``) at its smallest: the seed makes the city it
says, and every kind of request in the mix is answered as it should be (a code for each visit,
tokens for each exchange and refresh, an active token for each introspection, a signed-in
redirect for each password post)."""

from __future__ import annotations

import secrets
import shutil

import pytest

from bench import city
from bench.city_mix import KINDS
from tests.conftest import TEST_DATABASE_URL, TEST_REDIS_URL, need
from tests.support import free_port, required

pytestmark = [pytest.mark.services, pytest.mark.slow]


def test_the_city_is_seeded_and_each_kind_of_request_succeeds() -> None:
    need(TEST_DATABASE_URL, "YIHAOTONG_TEST_DATABASE_URL")
    need(TEST_REDIS_URL, "YIHAOTONG_TEST_REDIS_URL")
    required(shutil.which("wrk") is not None, "wrk")
    args = city.parse(
        ["--scale", "0.001", "--workers", "1", "--steps", "4", "--duration", "3",
         "--mix", "1,1,1,1,1,1", "--no-pin", "--port", str(free_port()),
         "--database", f"yh_city_test_{secrets.token_hex(4)}"]
    )  # fmt: skip
    document = city.run(args)

    assert document["seeded"] == {
        "accounts": 1000,
        "departments": 1 + 10 + 10 * 49,
        "apps": 10,
        "apis": 2,
        "live_sessions": 100,
    }
    # A session is four keys: record, idle timer, its apps, the person's sessions.
    assert document["redis_bytes_per_session_sampled"] > 4 * 50
    (run,) = document["runs"]
    (step,) = run["steps"]
    for kind, counts in step["kinds"].items():
        assert counts["ok"] > 0, (KINDS[kind], step["first_failure"])
        assert counts["failed"] == 0, (KINDS[kind], step["first_failure"])
    assert run["sign_ins"] >= 64  # the app sign-ins that made the first tokens, at least
    assert run["database_growth_bytes"] > 0
