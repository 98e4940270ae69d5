"""Rules for the fields of a local account: usernames, passwords, phone numbers, e-mail."""

from __future__ import annotations

import re
import unicodedata

_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@\-]{1,63}$")
_CN_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")

MIN_PASSWORD_LENGTH = 8
# argon2 hashes any length, but an unbounded input is a cheap way to burn server CPU.
MAX_PASSWORD_LENGTH = 1024


def canonical_username(username: str) -> str:
    """Usernames compare case-insensitively and in NFKC form (全角 letters equal half-width)."""
    return unicodedata.normalize("NFKC", username).strip().lower()


def username_problem(username: str) -> str | None:
    if not _USERNAME.match(username):
        return (
            "a username is 2 to 64 characters: letters, digits and . _ @ -, starting with a letter "
            "or digit"
        )
    return None


def password_problem(password: str, username: str | None = None) -> str | None:
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"a password needs at least {MIN_PASSWORD_LENGTH} characters"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"a password has at most {MAX_PASSWORD_LENGTH} characters"
    if username and password.lower() == username.lower():
        return "the password must not be the username"
    return None


def canonical_phone(phone: str) -> str | None:
    """A mainland mobile number as 11 digits, others in E.164; None when it is neither."""
    digits = re.sub(r"[\s\-()]", "", phone)
    if digits.startswith("+86"):
        digits = digits[3:]
    if _CN_MOBILE.match(digits):
        return digits
    if _E164.match(digits):
        return digits
    return None


def email_problem(email: str) -> str | None:
    if len(email) > 254 or not _EMAIL.match(email):
        return "not an e-mail address"
    return None
