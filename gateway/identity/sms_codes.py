"""One-time SMS codes: six digits from the system CSPRNG, living five minutes, bound to the
browser's sign-in transaction, used once, at most five wrong tries. Only an HMAC of the code
(keyed, with the transaction and number mixed in) is kept, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import cast

import orjson

from gateway.identity.pii import PiiVault
from gateway.identity.rate_limits import SMS_CODE_TRIES
from store import kv_keys
from store.kv import ExpiringStore, Step

CODE_TTL = 300
CODE_DIGITS = 6


@dataclass(frozen=True)
class Checked:
    phone: str | None  # the number the code was sent to, when the code was right
    exhausted: bool = False  # no code (expired, used, or too many wrong tries): send a new one


class SmsCodes:
    def __init__(self, store: ExpiringStore, key: bytes, vault: PiiVault) -> None:
        self._store = store
        self._key = key
        self._vault = vault  # the number waits sealed, as it would in the database

    def _digest(self, tx_id: str, phone: str, code: str) -> str:
        material = f"{tx_id}\x00{phone}\x00{code}".encode()
        return hmac.new(self._key, material, hashlib.sha256).hexdigest()

    async def issue(self, tx_id: str, phone: str) -> str:
        """A new code for ``phone`` in this transaction (replacing an earlier one)."""
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        record = {
            "phone": self._vault.seal("phone", phone),
            "digest": self._digest(tx_id, phone, code),
        }
        await self._store.many(
            Step("put", (kv_keys.sms_code(tx_id), orjson.dumps(record), CODE_TTL)),
            Step("delete", (kv_keys.sms_code_tries(tx_id),)),
        )
        return code

    async def withdraw(self, tx_id: str) -> None:
        """Forget the code (it could not be sent)."""
        await self._store.delete(kv_keys.sms_code(tx_id))

    async def check(self, tx_id: str, code: str) -> Checked:
        """The number when ``code`` is this transaction's code; the code is then spent."""
        tries, raw = await self._store.many(*self.check_steps(tx_id))
        return await self.judge(tx_id, code, cast(int, tries), cast(bytes | None, raw))

    def check_steps(self, tx_id: str) -> tuple[Step, Step]:
        """The try's count and the code's read, for ``judge``: a caller may send them in its
        own round trip, and must then judge (every try counted is a try)."""
        counted = Step("incr", (kv_keys.sms_code_tries(tx_id), SMS_CODE_TRIES.per, 1))
        return counted, Step("get", (kv_keys.sms_code(tx_id),))

    async def judge(self, tx_id: str, code: str, tries: int, raw: bytes | None) -> Checked:
        """``check`` once ``check_steps`` gave ``tries`` and ``raw``."""
        key = kv_keys.sms_code(tx_id)
        if raw is None:
            return Checked(None, exhausted=True)
        if not SMS_CODE_TRIES.allows(tries):
            await self._store.delete(key)
            return Checked(None, exhausted=True)
        record = orjson.loads(raw)
        typed = code.strip()
        phone = self._vault.open("phone", record["phone"])
        candidate = self._digest(tx_id, phone, typed)
        right = len(typed) == CODE_DIGITS and hmac.compare_digest(candidate, record["digest"])
        if not right:
            return Checked(None)
        # Spent: only the request that takes it signs in (two at once cannot both).
        if await self._store.take(key) is None:
            return Checked(None, exhausted=True)
        return Checked(phone)
