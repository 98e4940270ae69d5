"""Personal identifiers at rest: encrypted with the master key, found again by a keyed blind
index (HMAC of the normalised value), so a copy of the database reveals none of them."""

from __future__ import annotations

import hashlib
import hmac

from keys.master import MasterKey
from policies.accounts import canonical_phone
from policies.identifiers import normalize_national_id


def normalize(kind: str, value: str) -> str:
    if kind == "phone":
        return canonical_phone(value) or value.strip()
    if kind == "email":
        return value.strip().lower()
    return normalize_national_id(value)  # ID numbers and credit codes: upper case, no spaces


class PiiVault:
    def __init__(self, master_key: MasterKey) -> None:
        self._master = master_key
        self._index_key = master_key.derive("pii-blind-index")

    def blind_index(self, kind: str, value: str) -> str:
        material = f"{kind}:{normalize(kind, value)}".encode()
        return hmac.new(self._index_key, material, hashlib.sha256).hexdigest()

    def seal(self, kind: str, value: str) -> str:
        return self._master.encrypt(normalize(kind, value).encode(), f"pii:{kind}")

    def open(self, kind: str, sealed: str) -> str:
        return self._master.decrypt(sealed, f"pii:{kind}").decode()

    def seal_json(self, text: str) -> str:
        return self._master.encrypt(text.encode(), "pii:attributes")

    def open_json(self, sealed: str) -> str:
        return self._master.decrypt(sealed, "pii:attributes").decode()
