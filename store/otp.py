"""Durable TOTP enrolments; the secret arrives and leaves encrypted."""

from __future__ import annotations

from sqlalchemy import delete, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from store.database import Database
from store.tables import AccountOtpRow


class OtpStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def get(self, account_id: str) -> tuple[str, bool] | None:
        """(sealed secret, confirmed) or None."""
        async with self._db.sessions() as session:
            row = await session.get(AccountOtpRow, account_id)
            return None if row is None else (row.secret, row.confirmed)

    async def begin(self, account_id: str, sealed: str, now: float) -> bool:
        """Store a new, unconfirmed secret; False when the account has one already, confirmed
        (it must be removed first, with a code from it) or still being set up."""
        try:
            return await self._begin(account_id, sealed, now)
        except IntegrityError:
            return False  # two first set-ups raced: the other one's secret stands

    async def _begin(self, account_id: str, sealed: str, now: float) -> bool:
        async with self._db.transaction() as session:
            if await session.get(AccountOtpRow, account_id) is not None:
                return False  # being set up (that secret stays, so every page shows one) or set
            session.add(
                AccountOtpRow(account_id=account_id, secret=sealed, confirmed=False, created_at=now)
            )
            return True

    async def use_step(self, account_id: str, step: int, confirm: bool = False) -> bool:
        """Record that the code of time step ``step`` was used, only if no later or equal step
        was used before: of two uses of one code (anywhere), exactly one succeeds."""
        values: dict[str, object] = {"last_step": step}
        if confirm:
            values["confirmed"] = True
        async with self._db.transaction() as session:
            result = await session.execute(
                update(AccountOtpRow)
                .where(
                    AccountOtpRow.account_id == account_id,
                    or_(AccountOtpRow.last_step.is_(None), AccountOtpRow.last_step < step),
                )
                .values(**values)
            )
            return result.rowcount == 1  # type: ignore[attr-defined]

    async def remove_in(self, session: AsyncSession, account_id: str) -> bool:
        """Remove inside the caller's transaction (an admin reset and its audit entry)."""
        result = await session.execute(
            delete(AccountOtpRow).where(AccountOtpRow.account_id == account_id)
        )
        return result.rowcount == 1  # type: ignore[attr-defined]

    async def remove(self, account_id: str) -> bool:
        async with self._db.transaction() as session:
            result = await session.execute(
                delete(AccountOtpRow).where(AccountOtpRow.account_id == account_id)
            )
            return result.rowcount == 1  # type: ignore[attr-defined]
