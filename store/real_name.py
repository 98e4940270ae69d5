"""Real-name checks that raised an account's level: the evidence, the new level and the verified
ID number, written together."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from store.database import Database
from store.errors import Conflict
from store.records import AccountIdentifier
from store.tables import AccountIdentifierRow, AccountRow, RealNameCheckRow


@dataclass(frozen=True)
class RealNameEvidence:
    id: str
    account_id: str
    level: str
    method: str
    backend: str
    reference: str
    national_id_index: str
    national_id: str  # sealed
    name: str  # sealed
    checked_at: float


class RealNameStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def raise_level(self, evidence: RealNameEvidence, identifier: AccountIdentifier) -> None:
        """Keep the evidence, set the account's level and record its ID number as verified
        (replacing an unverified claim of the same account); all or nothing. ``Conflict`` when
        another account holds the ID number."""
        try:
            async with self._db.transaction() as session:
                held = await session.get(
                    AccountIdentifierRow, (identifier.type, identifier.blind_index)
                )
                if held is not None and held.account_id != identifier.account_id:
                    raise Conflict("the ID number belongs to another account")
                if held is None:
                    session.add(AccountIdentifierRow(**asdict(identifier)))
                else:
                    held.verified = True
                session.add(RealNameCheckRow(**asdict(evidence)))
                await session.execute(
                    update(AccountRow)
                    .where(AccountRow.id == evidence.account_id)
                    .values(assurance=evidence.level, updated_at=evidence.checked_at)
                )
        except IntegrityError as error:
            raise Conflict("the ID number belongs to another account") from error

    async def latest(self, account_id: str) -> RealNameEvidence | None:
        async with self._db.sessions() as session:
            row = await session.scalar(
                select(RealNameCheckRow)
                .where(RealNameCheckRow.account_id == account_id)
                .order_by(RealNameCheckRow.checked_at.desc())
                .limit(1)
            )
            if row is None:
                return None
            return RealNameEvidence(
                **{name: getattr(row, name) for name in RealNameEvidence.__dataclass_fields__}
            )
