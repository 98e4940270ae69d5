"""Erasing a closed account (个人信息保护法 Art. 47): every row that holds the person's
identifiers or data goes, the account row stays as a tombstone (its id is referenced by
records kept for others), and the audit log's entries name a pseudonym instead of the account.
One transaction: an account is closed completely or not at all."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.tables import (
    AccountIdentifierRow,
    AccountOtpRow,
    AccountRow,
    AgreementRow,
    AuditEventRow,
    ConsentRow,
    DelegationRow,
    GroupMemberRow,
    LinkedIdentityRow,
    MigratedLoginRow,
    PasskeyRow,
    RefreshTokenRow,
    RoleAssignmentRow,
    SignInPlaceRow,
    SubjectIdentifierRow,
)

PSEUDONYM_PREFIX = "pseudonym:"  # the only values the audit log's guard lets replace an id

_OWNED_BY_ACCOUNT = (
    AccountIdentifierRow.account_id,
    LinkedIdentityRow.account_id,
    MigratedLoginRow.account_id,
    ConsentRow.account_id,
    RefreshTokenRow.account_id,
    SubjectIdentifierRow.account_id,
    AccountOtpRow.account_id,
    PasskeyRow.account_id,
    AgreementRow.account_id,
    GroupMemberRow.account_id,
    RoleAssignmentRow.account_id,
    DelegationRow.member_id,
    SignInPlaceRow.account_id,
)


async def erase_account(
    session: AsyncSession,
    account_id: str,
    *,
    tombstone: str,
    pseudonym: str,
    scrub: Callable[[dict[str, Any]], dict[str, Any]],
    now: float,
) -> int:
    """Erase the account's data in ``session``'s transaction; the number of audit entries
    given the pseudonym. ``scrub`` rewrites those entries' details."""
    for column in _OWNED_BY_ACCOUNT:
        await session.execute(delete(column.class_).where(column == account_id))
    await session.execute(
        update(AccountRow)
        .where(AccountRow.id == account_id)
        .values(
            username=tombstone,
            name=None,
            phone=None,
            email=None,
            password_hash=None,
            disabled=True,
            department_id=None,
            updated_at=now,
        )
    )
    rows = (
        await session.execute(
            select(
                AuditEventRow.id, AuditEventRow.actor, AuditEventRow.target, AuditEventRow.details
            ).where(or_(AuditEventRow.actor == account_id, AuditEventRow.target == account_id))
        )
    ).all()
    for row in rows:
        await session.execute(
            update(AuditEventRow)
            .where(AuditEventRow.id == row.id)
            .values(
                actor=pseudonym if row.actor == account_id else row.actor,
                target=pseudonym if row.target == account_id else row.target,
                details=scrub(row.details or {}),
            )
        )
    return len(rows)
