"""Phone numbers, proof-of-work and the SMS send limits on each expiring store (memory, Redis)."""

from __future__ import annotations

import hashlib

import pytest

from gateway.identity import phones, proof_of_work
from gateway.identity.rate_limits import SMS_PER_NUMBER_DAY
from gateway.identity.sms_limits import SmsLimits
from tests.gateway.sms_flow import solve


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("13800138000", "13800138000"),
        ("+86 138-0013-8000", "13800138000"),
        ("0086 13800138000", "13800138000"),
        ("8613800138000", "13800138000"),
        ("１３８００１３８０００", "13800138000"),
        ("(138) 0013 8000", "13800138000"),
        ("12800138000", None),
        ("1380013800", None),
        ("138001380001", None),
        ("+1 415 555 0100", None),
        ("+86 1380013800", None),
        ("", None),
        ("phone", None),
    ],
)
def test_mainland_mobile_numbers(typed: str, canonical: str | None) -> None:
    assert phones.canonical(typed) == canonical


def test_masked() -> None:
    assert phones.masked("13800138000") == "138****8000"
    assert phones.masked("") == ""


def test_proof_of_work_takes_a_solution_or_the_wait() -> None:
    challenge = proof_of_work.new(12, 20, now=1000.0)
    nonce = solve(challenge.salt, 12)
    assert proof_of_work.met(challenge, nonce, now=1000.0)
    wrong = next(
        str(n)
        for n in range(100)
        if hashlib.sha256(f"{challenge.salt}:{n}".encode()).digest()[:2] != b"\0\0"
        and not proof_of_work.met(challenge, str(n), 1000.0)
    )
    assert not proof_of_work.met(challenge, wrong, now=1019.0)
    assert proof_of_work.met(challenge, "", now=1020.0)


async def test_limits_per_number_and_browser(expiring_store) -> None:
    limits = SmsLimits(expiring_store)
    first = await limits.count("n1", "10.0.0.1", "b1", solved=False)
    assert first.refused_by is None and not first.challenge_next
    again = await limits.count("n1", "10.0.0.1", "b2", solved=False)
    assert again.refused_by == "number" and 0 < again.retry_after <= 60
    # A refusal took itself back: the browser and address counted one send, not two.
    second = await limits.count("n2", "10.0.0.1", "b1", solved=False)
    assert second.refused_by is None and second.challenge_next
    third = await limits.count("n3", "10.0.0.1", "b1", solved=False)
    assert third.challenge_now and third.refused_by is None
    assert (await limits.count("n3", "10.0.0.1", "b1", solved=True)).challenge_now is False


async def test_ten_a_day_per_number(expiring_store) -> None:
    from store import kv_keys

    limits = SmsLimits(expiring_store)
    for n in range(SMS_PER_NUMBER_DAY.count):
        await expiring_store.delete(kv_keys.sms_sends_per_number("n", "m"))
        counted = await limits.count("n", f"10.0.0.{n}", f"b{n}", solved=True)
        assert counted.refused_by is None
    await expiring_store.delete(kv_keys.sms_sends_per_number("n", "m"))
    over = await limits.count("n", "10.0.1.1", "b-last", solved=True)
    assert over.refused_by == "number" and over.retry_after > 3600
