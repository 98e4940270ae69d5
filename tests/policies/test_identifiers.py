"""Check digits on published example numbers and on random corruptions of them."""

from __future__ import annotations

import random

import pytest

from policies.identifiers import (
    USCC_ALPHABET,
    mask,
    mask_phone,
    national_id_problem,
    uscc_problem,
)

# Examples printed in GB 11643-1999 (Appendix) and widely reproduced.
NATIONAL_IDS = ["11010519491231002X", "440524188001010014"]
# Examples of valid codes from the GB 32100-2015 documentation and public registers.
USCCS = ["91350100M000100Y43", "91110000600037341L"]


@pytest.mark.parametrize("number", NATIONAL_IDS)
def test_published_national_ids_are_valid(number: str) -> None:
    assert national_id_problem(number) is None
    assert national_id_problem(number.lower()) is None  # an x is an X


@pytest.mark.parametrize("code", USCCS)
def test_published_credit_codes_are_valid(code: str) -> None:
    assert uscc_problem(code) is None


def test_single_character_corruptions_are_caught() -> None:
    rng = random.Random(11643)
    for number in NATIONAL_IDS:
        for _ in range(200):
            position = rng.randrange(18)
            alphabet = "0123456789X" if position == 17 else "0123456789"
            replacement = rng.choice([c for c in alphabet if c != number[position]])
            corrupted = number[:position] + replacement + number[position + 1 :]
            assert national_id_problem(corrupted) is not None, corrupted
    for code in USCCS:
        for _ in range(200):
            position = rng.randrange(18)
            replacement = rng.choice([c for c in USCC_ALPHABET if c != code[position]])
            corrupted = code[:position] + replacement + code[position + 1 :]
            assert uscc_problem(corrupted) is not None, corrupted


def test_adjacent_swaps_are_caught() -> None:
    for number in NATIONAL_IDS:
        for i in range(16):
            if number[i] != number[i + 1]:
                swapped = number[:i] + number[i + 1] + number[i] + number[i + 2 :]
                assert national_id_problem(swapped) is not None, swapped


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("1101051949123100", "17 digits"),
        ("01010519491231002X", "17 digits"),
        ("110105194902300026", "date of birth"),  # 30 February
        ("11010519491231002Y", "17 digits"),
    ],
)
def test_malformed_national_ids(number: str, reason: str) -> None:
    assert reason in (national_id_problem(number) or "")


def test_malformed_credit_codes() -> None:
    assert uscc_problem("91350100M000100Y4") is not None  # 17 characters
    assert uscc_problem("91350100M000100I43") is not None  # I is not in the alphabet


def test_masking() -> None:
    assert mask("11010519491231002X") == "1101**********002X"
    assert mask_phone("13800138000") == "138****8000"
    assert mask("abc") == "***" and mask(None) is None
