"""The identity-check backends and raising a level: the ``dev`` fixture list behind the GB 11643
check character, the ``http`` backend against a local service that checks its signature, and
the service's rules (the number on record, one account per number, failures limited)."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from gateway.identity.real_name import (
    CheckRequest,
    CheckUnavailable,
    RealNameConfig,
    open_checker,
)
from gateway.identity.real_name.dev import DevChecker
from tests.gateway.helpers import second_instance
from tests.gateway.real_name_service import real_name_service

ZHANG = ("张三", "11010519491231002X")


async def test_the_dev_backend_needs_the_check_character_and_the_fixture() -> None:
    checker = DevChecker()
    assert (await checker.check(CheckRequest("id_pair", *ZHANG))).match
    assert (await checker.check(CheckRequest("id_pair", "张三", "11010519491231002x"))).match
    assert not (await checker.check(CheckRequest("id_pair", "李四", ZHANG[1]))).match
    # A right check character is not enough: the person must be on the list.
    assert not (await checker.check(CheckRequest("id_pair", "赵六", "510107197805154560"))).match
    # The list's number with a wrong check character fails before the list is read.
    assert not (await checker.check(CheckRequest("id_pair", "张三", "110105194912310021"))).match
    assert not (await checker.check(CheckRequest("network_id", *ZHANG, evidence="x"))).match
    assert (await checker.check(CheckRequest("network_id", *ZHANG, evidence="WH0000000001"))).match


async def test_the_dev_backend_reads_a_fixture_file(tmp_path) -> None:
    people = tmp_path / "people.json"
    people.write_text('[{"name": "赵六", "national_id": "510107197805154560"}]', "utf-8")
    checker = open_checker(RealNameConfig(backend="dev", fixtures_file=str(people)), time.time)
    assert (await checker.check(CheckRequest("id_pair", "赵六", "510107197805154560"))).match
    assert not (await checker.check(CheckRequest("id_pair", *ZHANG))).match


async def test_the_http_backend_signs_and_reads_the_verdict() -> None:
    with real_name_service("s3cret", {ZHANG[1]: ZHANG[0]}) as service:
        checker = open_checker(
            RealNameConfig(backend="http", http_url=service.url, http_secret="s3cret"), time.time
        )
        yes = await checker.check(CheckRequest("id_pair", *ZHANG, reference="r1"))
        no = await checker.check(CheckRequest("id_pair", "李四", ZHANG[1]))
        assert yes.match and yes.reference == "city-1" and not no.match
        assert service.received[0] == {
            "method": "id_pair",
            "name": "张三",
            "national_id": ZHANG[1],
            "evidence": "",
            "reference": "r1",
        }
        wrong = open_checker(
            RealNameConfig(backend="http", http_url=service.url, http_secret="nope"), time.time
        )
        with pytest.raises(CheckUnavailable):
            await wrong.check(CheckRequest("id_pair", *ZHANG))
        assert service.refused == 1
        service.failing = True
        with pytest.raises(CheckUnavailable) as failed:
            await checker.check(CheckRequest("id_pair", *ZHANG))
        assert ZHANG[1] not in failed.value.reason


async def test_raising_a_level_keeps_evidence_and_its_rules(settings_for) -> None:
    settings = settings_for("embedded")
    async with second_instance(settings) as services:
        levels = services.real_name
        zhang = await services.accounts.create_local(username="zhang", password="a-long-password")
        li = await services.accounts.create_local(username="li", password="a-long-password")
        assert levels.methods_for(zhang) == ["id_pair", "network_id"]
        refused = await levels.raise_level(zhang, "id_pair", "李四", ZHANG[1], "", "10.0.0.1")
        assert refused.result == "mismatch"
        raised = await levels.raise_level(zhang, "id_pair", *ZHANG, "", "10.0.0.1")
        assert raised.result == "raised" and raised.level == "L2"
        zhang = await services.accounts.get(zhang.id)
        assert zhang.assurance == "L2" and levels.methods_for(zhang) == ["network_id"]
        evidence = await levels.latest(zhang.id)
        assert evidence.level == "L2" and evidence.method == "id_pair" and evidence.backend == "dev"
        assert ZHANG[1] not in evidence.national_id and ZHANG[0] not in evidence.name
        assert await levels.recorded_national_id(zhang.id) == ZHANG[1]
        # The number on record is the only one this account can prove from now on ...
        other = await levels.raise_level(
            zhang, "network_id", "李四", "440304199003072013", "WH0000000002", "10.0.0.1"
        )
        assert other.result == "mismatch"
        # ... and no other account can use it.
        taken = await levels.raise_level(li, "id_pair", *ZHANG, "", "10.0.0.2")
        assert taken.result == "taken"
        assert (await services.accounts.get(li.id)).assurance == "L1"
        up = await levels.raise_level(zhang, "network_id", *ZHANG, "WH0000000001", "10.0.0.1")
        assert up.result == "raised" and up.level == "L3"


async def test_repeated_failures_are_limited(settings_for) -> None:
    async with second_instance(settings_for("embedded")) as services:
        wang = await services.accounts.create_local(username="wang", password="a-long-password")
        for _ in range(5):
            failed = await services.real_name.raise_level(wang, "id_pair", "王", ZHANG[1], "", "ip")
            assert failed.result == "mismatch"
        limited = await services.real_name.raise_level(wang, "id_pair", *ZHANG, "", "ip")
        assert limited.result == "limited" and limited.retry_after > 0
        assert (await services.accounts.get(wang.id)).assurance == "L1"


async def test_a_number_taken_by_another_account_counts_as_a_failure(settings_for) -> None:
    async with second_instance(settings_for("embedded")) as services:
        levels = services.real_name
        zhang = await services.accounts.create_local(username="zhang", password="a-long-password")
        li = await services.accounts.create_local(username="li", password="a-long-password")
        assert (await levels.raise_level(zhang, "id_pair", *ZHANG, "", "10.0.0.1")).result == (
            "raised"
        )
        for _ in range(4):
            failed = await levels.raise_level(li, "id_pair", "王", ZHANG[1], "", "10.0.0.2")
            assert failed.result == "mismatch"
        # A registry match for a number that is another account's resets nothing ...
        assert (await levels.raise_level(li, "id_pair", *ZHANG, "", "10.0.0.2")).result == "taken"
        # ... so probing pair after pair runs into the limit.
        limited = await levels.raise_level(li, "id_pair", *ZHANG, "", "10.0.0.2")
        assert limited.result == "limited" and limited.retry_after > 0


async def test_enterprises_and_a_switched_off_check_cannot_raise(settings_for) -> None:
    async with second_instance(settings_for("embedded", real_name_backend="none")) as services:
        person = await services.accounts.create_local(username="zhou", password="a-long-password")
        assert services.real_name.methods_for(person) == []
        outcome = await services.real_name.raise_level(person, "id_pair", *ZHANG, "", "ip")
        assert outcome.result == "not_offered"
    async with second_instance(settings_for("embedded")) as services:
        person = await services.accounts.create_local(username="qian", password="a-long-password")
        assert services.real_name.methods_for(replace(person, kind="legal_person")) == []
