"""Each client's access and claims policy, a JSON document the gateway validates."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from store.errors import StaleVersion
from store.records import ClientPolicy
from store.tables import ClientPolicyRow
from store.versioned import update_versioned


def _record(row: ClientPolicyRow) -> ClientPolicy:
    return ClientPolicy(row.client_id, dict(row.document), row.version, row.updated_at)


async def get_policy(session: AsyncSession, client_id: str) -> ClientPolicy | None:
    row = await session.get(ClientPolicyRow, client_id, populate_existing=True)
    return None if row is None else _record(row)


async def all_policies(session: AsyncSession) -> dict[str, ClientPolicy]:
    rows = await session.scalars(select(ClientPolicyRow))
    return {row.client_id: _record(row) for row in rows}


async def policies_naming(session: AsyncSession, field: str, value: str) -> list[str]:
    """The clients whose policy lists ``value`` under ``field`` (``groups``, ``departments``).
    Read in Python: documents are small, apps few, and the JSON operators differ by database."""
    rows = await session.execute(select(ClientPolicyRow.client_id, ClientPolicyRow.document))
    return sorted(
        client_id
        for client_id, document in rows
        if isinstance(document, dict)
        and isinstance(document.get(field), list)
        and value in document[field]
    )


async def put_policy(
    session: AsyncSession,
    client_id: str,
    document: dict[str, Any],
    expected_version: int | None,
    now: float,
) -> ClientPolicy:
    """Create (``expected_version`` 0 or None) or replace (the version read) the policy."""
    row = await session.get(ClientPolicyRow, client_id, with_for_update=True)
    if row is None:
        if expected_version not in (None, 0):
            raise StaleVersion(f"client {client_id!r} has no policy")
        row = ClientPolicyRow(client_id=client_id, document=document, version=1, updated_at=now)
        session.add(row)
        await session.flush()
        return _record(row)
    await update_versioned(
        session,
        ClientPolicyRow,
        client_id,
        expected_version,
        {"document": document, "updated_at": now},
    )
    refreshed = await get_policy(session, client_id)
    assert refreshed is not None
    return refreshed
