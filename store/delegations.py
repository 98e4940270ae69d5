"""Who acts for an enterprise (法人): its legal representative, administrators and staff."""

from __future__ import annotations

from dataclasses import fields

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.records import Delegation
from store.tables import DelegationRow
from store.versioned import update_versioned

_FIELDS = [f.name for f in fields(Delegation)]


def delegation_record(row: DelegationRow) -> Delegation:
    values = {name: getattr(row, name) for name in _FIELDS}
    values["roles"] = tuple(values["roles"])
    return Delegation(**values)


async def add_delegation(session: AsyncSession, delegation: Delegation) -> Delegation:
    values = {name: getattr(delegation, name) for name in _FIELDS}
    values["roles"] = list(delegation.roles)
    row = DelegationRow(**values)
    session.add(row)
    await session.flush()
    return delegation_record(row)


async def get_delegation(session: AsyncSession, delegation_id: str) -> Delegation | None:
    row = await session.get(DelegationRow, delegation_id, populate_existing=True)
    return None if row is None else delegation_record(row)


async def list_delegations(
    session: AsyncSession,
    now: float,
    organisation_id: str | None = None,
    member_id: str | None = None,
    active_only: bool = False,
    offset: int = 0,
    limit: int = 100,
) -> tuple[list[Delegation], int]:
    query = select(DelegationRow)
    if organisation_id is not None:
        query = query.where(DelegationRow.organisation_id == organisation_id)
    if member_id is not None:
        query = query.where(DelegationRow.member_id == member_id)
    if active_only:
        query = query.where(
            DelegationRow.revoked_at.is_(None),
            or_(DelegationRow.expires_at.is_(None), DelegationRow.expires_at > now),
        )
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(
        query.order_by(DelegationRow.created_at, DelegationRow.id).offset(offset).limit(limit)
    )
    return [delegation_record(row) for row in rows], int(total or 0)


async def revoke_delegation(session: AsyncSession, delegation_id: str, now: float) -> Delegation:
    await update_versioned(session, DelegationRow, delegation_id, None, {"revoked_at": now})
    revoked = await get_delegation(session, delegation_id)
    assert revoked is not None
    return revoked
