"""National identifiers: validation by check digit and masking for display and logs.

- 公民身份号码, GB 11643-1999: 17 digits and an ISO 7064 MOD 11-2 check character.
- 统一社会信用代码, GB 32100-2015: 18 characters of a 31-symbol alphabet, MOD 31 check.
"""

from __future__ import annotations

import re
from datetime import date

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_FORMAT = re.compile(r"^[1-9]\d{16}[\dX]$")

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # no I, O, S, V, Z
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_FORMAT = re.compile(rf"^[{USCC_ALPHABET}]{{18}}$")


def normalize_national_id(value: str) -> str:
    return value.strip().upper()


def national_id_check_char(first17: str) -> str:
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def national_id_problem(value: str) -> str | None:
    """Why ``value`` is not a valid 18-character citizen ID number, or None."""
    number = normalize_national_id(value)
    if not _ID_FORMAT.match(number):
        return "an ID number is 17 digits and a digit or X"
    try:
        date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return "the date of birth in the ID number does not exist"
    if national_id_check_char(number[:17]) != number[17]:
        return "the check character of the ID number is wrong"
    return None


def uscc_check_char(first17: str) -> str:
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def uscc_problem(value: str) -> str | None:
    """Why ``value`` is not a valid unified social credit code, or None."""
    code = value.strip().upper()
    if not _USCC_FORMAT.match(code):
        return f"a unified social credit code is 18 characters of {USCC_ALPHABET}"
    if uscc_check_char(code[:17]) != code[17]:
        return "the check character of the unified social credit code is wrong"
    return None


def mask(value: str | None, keep_start: int = 4, keep_end: int = 4) -> str | None:
    """Show the ends only: 1101**********002X, 138***8000."""
    if value is None:
        return None
    if len(value) <= keep_start + keep_end:
        return "*" * len(value)
    # Not value[-keep_end:]: with keep_end 0 that slice is the whole value.
    tail = value[len(value) - keep_end :]
    return value[:keep_start] + "*" * (len(value) - keep_start - keep_end) + tail


def mask_phone(value: str | None) -> str | None:
    return mask(value, 3, 4)
