"""Phones typed by admins are kept sealed: a new account's phone lands among its identifiers
(blind index, encrypted, unverified) and never in ``accounts.phone``; one left there in clear
by an earlier version is moved by ``init`` (and ``serve``), once; pages and the admin API
still show it."""

from __future__ import annotations

from sqlalchemy import text

from gateway.server.services import initialize
from tests.gateway.helpers import second_instance

PHONE = "13800138000"


async def _clear_phone(services, account_id: str) -> str | None:
    async with services.database.sessions() as session:
        row = await session.execute(
            text("SELECT phone FROM accounts WHERE id = :id"), {"id": account_id}
        )
        return row.scalar_one()


async def _identifier_values(services, account_id: str) -> list[tuple[str, str, bool]]:
    async with services.database.sessions() as session:
        rows = await session.execute(
            text("SELECT type, value, verified FROM account_identifiers WHERE account_id = :id"),
            {"id": account_id},
        )
        return [(kind, value, bool(verified)) for kind, value, verified in rows]


async def test_a_new_accounts_phone_is_sealed_and_still_shown(settings_for, backend) -> None:
    settings = settings_for(backend)
    async with second_instance(settings) as services:
        account = await services.accounts.create_local(
            username="li", password="correct horse battery", phone=PHONE
        )
        assert await _clear_phone(services, account.id) is None
        [(kind, value, verified)] = await _identifier_values(services, account.id)
        assert kind == "phone" and not verified and PHONE not in value and "8000" not in value
        stored = await services.accounts.get(account.id)
        assert stored is not None and stored.phone is None
        assert (await services.federation.with_phone(stored)).phone == PHONE
        assert await services.phone_accounts.holder(PHONE) is None, "it signs nobody in"


async def test_init_seals_a_phone_left_in_clear_once(settings_for, backend) -> None:
    settings = settings_for(backend)
    async with second_instance(settings) as services:
        account = await services.accounts.create_local(
            username="wang", password="correct horse battery"
        )
        async with services.database.transaction() as session:  # as an earlier version wrote it
            await session.execute(
                text("UPDATE accounts SET phone = :phone WHERE id = :id"),
                {"phone": PHONE, "id": account.id},
            )
    await initialize(settings)
    await initialize(settings)  # nothing left to move: no second identifier
    async with second_instance(settings) as services:
        assert await _clear_phone(services, account.id) is None
        [(kind, value, verified)] = await _identifier_values(services, account.id)
        assert kind == "phone" and not verified and PHONE not in value
        assert await services.phone_accounts.verified_of(account.id) is None, "not verified"
        stored = await services.accounts.get(account.id)
        assert stored is not None
        assert (await services.federation.with_phone(stored)).phone == PHONE
