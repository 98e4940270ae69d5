"""Schemathesis against the served OpenAPI document: every operation, valid and invalid inputs
generated from the document, sent with a city-wide admin token to a live gateway. No answer may
be a server error or break the document (status, content type, headers, body schema)."""

from __future__ import annotations

import asyncio

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import running_gateway
from tests.gateway.admin.conftest import API, build_world

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES = {GenerationMode.POSITIVE: 4, GenerationMode.NEGATIVE: 2}
# The operations are shared out over this many tests per backend, which the workers run side
# by side (each with its own gateway).
SHARDS = 2


def fuzz(operation: object, mode: GenerationMode, base_url: str, token: str) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))  # type: ignore[attr-defined]
    @settings(
        max_examples=EXAMPLES[mode],
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}"},
            checks=CHECKS,
            timeout=30,
        )

    run()


@pytest.mark.slow
@pytest.mark.parametrize("shard", range(SHARDS))
@pytest.mark.parametrize("backend", ["embedded", "services"])
def test_the_admin_api_keeps_to_its_openapi_document(
    settings_for, backend: str, shard: int
) -> None:
    with running_gateway(settings_for, backend) as live:
        world = asyncio.run(build_world(live))
        schema = schemathesis.openapi.from_url(f"{live.url}{API}/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 40
        for operation in operations[shard::SHARDS]:
            for mode in EXAMPLES:
                fuzz(operation, mode, live.url + API, world.city_token)
