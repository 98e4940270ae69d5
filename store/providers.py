"""Durable provider configurations (encrypted by the caller) and migrated logins."""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from store.database import Database
from store.errors import Conflict
from store.tables import MigratedLoginRow, ProviderRow


class ProviderStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def add(self, provider_id: str, kind: str, sealed_config: str, now: float) -> None:
        try:
            async with self._db.transaction() as session:
                session.add(
                    ProviderRow(id=provider_id, type=kind, config=sealed_config, created_at=now)
                )
        except IntegrityError as error:
            raise Conflict(f"provider {provider_id!r} exists already") from error

    async def all(self) -> list[tuple[str, str, str]]:
        """(id, type, sealed config) of every provider."""
        async with self._db.sessions() as session:
            rows = await session.scalars(select(ProviderRow).order_by(ProviderRow.created_at))
            return [(row.id, row.type, row.config) for row in rows]

    async def disabled(self) -> set[str]:
        """The ids of the providers an administrator disabled."""
        async with self._db.sessions() as session:
            rows = await session.scalars(select(ProviderRow.id).where(ProviderRow.disabled))
            return set(rows)

    async def set_disabled(self, provider_id: str, disabled: bool) -> bool:
        """False when there is no such provider."""
        async with self._db.transaction() as session:
            result = await session.execute(
                update(ProviderRow).where(ProviderRow.id == provider_id).values(disabled=disabled)
            )
            return result.rowcount == 1  # type: ignore[attr-defined]

    async def remove(self, provider_id: str) -> bool:
        async with self._db.transaction() as session:
            result = await session.execute(delete(ProviderRow).where(ProviderRow.id == provider_id))
            return result.rowcount == 1  # type: ignore[attr-defined]

    async def migrated(self, provider_id: str, username: str) -> str | None:
        async with self._db.sessions() as session:
            row = await session.get(MigratedLoginRow, (provider_id, username))
            return None if row is None else row.account_id

    async def remember_migrated(
        self, provider_id: str, username: str, account_id: str, now: float
    ) -> None:
        try:
            async with self._db.transaction() as session:
                session.add(
                    MigratedLoginRow(
                        provider_id=provider_id,
                        username=username,
                        account_id=account_id,
                        migrated_at=now,
                    )
                )
        except IntegrityError:
            pass  # migrated by a simultaneous sign-in

    async def migrated_of(self, account_id: str) -> list[tuple[str, str]]:
        """(provider id, username) of every department login migrated into the account."""
        async with self._db.sessions() as session:
            rows = await session.scalars(
                select(MigratedLoginRow).where(MigratedLoginRow.account_id == account_id)
            )
            return [(row.provider_id, row.username) for row in rows]
