"""Closing an account (注销, 个人信息保护法 Art. 47): its personal data erased in one
transaction, and its audit entries kept under a pseudonym, a keyed hash of the account id.
Without the master key, a reader of the database cannot tie those entries to the person
(or to the tombstone left in the accounts table); the operator holding the key still can, when
the law asks."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from gateway.identity.audit import AuditLog, personal_keys
from keys.master import MasterKey
from store.clock import Clock
from store.database import Database
from store.erasure import PSEUDONYM_PREFIX, erase_account
from store.records import AuditEvent

ERASED = "[erased]"


def scrubbed(value: Any, account_id: str, pseudonym: str, key: str | None = None) -> Any:
    """``value`` with personal data removed and the account id replaced, at any depth."""
    if isinstance(value, dict):
        return {k: scrubbed(v, account_id, pseudonym, k) for k, v in value.items()}
    if isinstance(value, list):
        return [scrubbed(item, account_id, pseudonym, key) for item in value]
    if isinstance(value, str):
        return ERASED if key in personal_keys() else value.replace(account_id, pseudonym)
    return value


class AccountErasure:
    def __init__(self, database: Database, audit: AuditLog, master_key: MasterKey, clock: Clock):
        self._db = database
        self._audit = audit
        self._key = master_key.derive("audit-pseudonym")
        self._clock = clock

    def pseudonym(self, account_id: str) -> str:
        digest = hmac.new(self._key, account_id.encode(), hashlib.sha256).hexdigest()
        return f"{PSEUDONYM_PREFIX}{digest}"

    async def erase(self, account_id: str, request: Any = None) -> str:
        """Erase the account's data; its pseudonym. The closing itself is audited under it."""
        pseudonym = self.pseudonym(account_id)
        await self._audit.flush()  # entries still queued are rewritten with the others
        async with self._db.transaction() as session:
            entries = await erase_account(
                session,
                account_id,
                tombstone=f"closed-{secrets.token_hex(12)}",
                pseudonym=pseudonym,
                scrub=lambda details: scrubbed(details, account_id, pseudonym),
                now=self._clock.now(),
            )
            await self._audit.record(
                AuditEvent(
                    "account.closed",
                    actor=pseudonym,
                    target=pseudonym,
                    details={"audit_entries_pseudonymised": entries},
                ),
                session=session,
                request=request,
            )
        return pseudonym
