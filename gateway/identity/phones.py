"""Mainland mobile numbers as a sign-in identifier: validation, the canonical form (11 digits)
and the masked form shown and logged (``138****8000``)."""

from __future__ import annotations

import re
import unicodedata

_MAINLAND_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_SEPARATORS = re.compile(r"[\s\-()（）]")


def canonical(value: str) -> str | None:
    """The 11 digits of a mainland mobile number (``+86``/``0086``/``86`` prefixes, spaces,
    dashes and full-width digits accepted); None when it is not one."""
    digits = _SEPARATORS.sub("", unicodedata.normalize("NFKC", value or ""))
    for prefix in ("+86", "0086", "86"):
        if digits.startswith(prefix) and len(digits) == 11 + len(prefix):
            digits = digits[len(prefix) :]
            break
    return digits if _MAINLAND_MOBILE.match(digits) else None


def masked(phone: str | None) -> str:
    """``138****8000``: the first three and last four digits only."""
    if not phone or len(phone) < 8:
        return "*" * len(phone or "")
    return f"{phone[:3]}****{phone[-4:]}"
