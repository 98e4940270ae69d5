"""The account centre's navigation: one list of entries, shown on every account page in this
order. A new account page adds one line here (and its label to both locales)."""

from __future__ import annotations

from dataclasses import dataclass

HOME_PATH = "/account"


@dataclass(frozen=True)
class Entry:
    path: str
    label: str  # a key of the locale files


ENTRIES: list[Entry] = [
    Entry(HOME_PATH, "nav_home"),
    Entry("/account/sessions", "nav_sessions"),
    Entry("/account/passkeys", "nav_passkeys"),
    Entry("/account/otp", "nav_otp"),
    Entry("/account/recovery-codes", "nav_recovery_codes"),
    Entry("/account/password", "nav_password"),
    Entry("/account/phone", "nav_phone"),
    Entry("/account/real-name", "nav_real_name"),
    Entry("/account/data", "nav_data"),
    Entry("/account/close", "nav_close"),
]


def navigation(current: str) -> list[dict[str, object]]:
    """The entries for a template, the one for ``current`` marked (aria-current)."""
    return [
        {"path": entry.path, "label": entry.label, "current": entry.path == current}
        for entry in ENTRIES
    ]
