"""Durable signing keys and the compare-and-swap that makes rotation safe across instances."""

from __future__ import annotations

from dataclasses import asdict, fields

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from store.database import Database
from store.records import SigningKey
from store.tables import KeyRingGenerationRow, SigningKeyRow

_FIELDS = [f.name for f in fields(SigningKey)]


class _Lost(Exception):
    """Another instance rotated first; roll back."""


def _record(row: SigningKeyRow) -> SigningKey:
    return SigningKey(**{name: getattr(row, name) for name in _FIELDS})


class SigningKeyStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def load(self) -> tuple[dict[str, int], list[SigningKey]]:
        """Every algorithm's generation and every stored key, read in one transaction."""
        async with self._db.sessions() as session, session.begin():
            generations = {
                row.alg: row.generation
                for row in await session.scalars(select(KeyRingGenerationRow))
            }
            keys = [
                _record(row)
                for row in await session.scalars(
                    select(SigningKeyRow).order_by(SigningKeyRow.created_at)
                )
            ]
        return generations, keys

    async def initialize(
        self, alg: str, active: SigningKey, next_key: SigningKey, now: float
    ) -> bool:
        """Create the first two keys of ``alg``; False when another instance already did."""
        try:
            async with self._db.transaction() as session:
                session.add(KeyRingGenerationRow(alg=alg, generation=1, rotated_at=now))
                await session.flush()
                session.add_all(
                    [SigningKeyRow(**asdict(active)), SigningKeyRow(**asdict(next_key))]
                )
        except IntegrityError:
            return False
        return True

    async def rotate(
        self,
        alg: str,
        expected_generation: int,
        new_next: SigningKey,
        now: float,
        retired_publish_until: float,
    ) -> bool:
        """Retire the active key, promote the next one, add ``new_next`` — only if the ring of
        ``alg`` is still at ``expected_generation``. Retired keys whose publication ended go."""
        try:
            async with self._db.transaction() as session:
                swapped = await session.execute(
                    update(KeyRingGenerationRow)
                    .where(
                        KeyRingGenerationRow.alg == alg,
                        KeyRingGenerationRow.generation == expected_generation,
                    )
                    .values(generation=expected_generation + 1, rotated_at=now)
                )
                if swapped.rowcount != 1:  # type: ignore[attr-defined]
                    raise _Lost
                of_alg = SigningKeyRow.alg == alg
                await session.execute(
                    update(SigningKeyRow)
                    .where(of_alg, SigningKeyRow.state == "active")
                    .values(state="retired", retired_at=now, publish_until=retired_publish_until)
                )
                await session.execute(
                    update(SigningKeyRow)
                    .where(of_alg, SigningKeyRow.state == "next")
                    .values(state="active", activated_at=now)
                )
                await session.execute(
                    delete(SigningKeyRow).where(
                        of_alg, SigningKeyRow.state == "retired", SigningKeyRow.publish_until < now
                    )
                )
                session.add(SigningKeyRow(**asdict(new_next)))
        except _Lost:
            return False
        return True
