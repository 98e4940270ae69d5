"""Phones that admins typed before they were sealed: ``accounts.phone`` once held them in clear.
At every ``yihaotong init`` and ``serve`` (``gateway.server.services.initialize``) any still
there move to the account's identifiers, sealed with a blind index and unverified."""

from __future__ import annotations

import logging

from gateway.identity.pii import PiiVault
from keys.master import MasterKey
from store.clock import Clock
from store.database import Database
from store.identities import IdentityStore
from store.records import AccountIdentifier

log = logging.getLogger("yihaotong")


async def seal_clear_phones(database: Database, master_key: MasterKey, clock: Clock) -> int:
    """How many accounts had a phone in clear (none once this has run)."""
    vault = PiiVault(master_key)

    def sealed(account_id: str, phone: str) -> AccountIdentifier:
        return AccountIdentifier(
            account_id=account_id,
            type="phone",
            blind_index=vault.blind_index("phone", phone),
            value=vault.seal("phone", phone),
            verified=False,
            created_at=clock.now(),
        )

    moved = await IdentityStore(database).seal_clear_phones(sealed)
    if moved:
        log.info("sealed phone numbers kept in clear", extra={"fields": {"accounts": moved}})
    return moved
