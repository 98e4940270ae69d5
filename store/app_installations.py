"""Installations of the city's own apps: each a refresh token family, named by the device it
signed in on. First and last use come from the family's tokens (each use rotates one)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import case, func, select

from store.database import Database
from store.tables import AppInstallationRow, RefreshTokenRow


@dataclass(frozen=True)
class AppInstallation:
    family_id: str
    account_id: str
    client_id: str
    device_name: str
    dpop_jkt: str | None
    first_used: float
    last_used: float

    @property
    def device_id(self) -> str:
        """A public handle of the installation (the family id itself is never shown)."""
        return device_id_of(self.family_id)


def device_id_of(family_id: str) -> str:
    return hashlib.sha256(family_id.encode()).hexdigest()[:24]


class AppInstallationStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def add(
        self,
        family_id: str,
        account_id: str,
        client_id: str,
        device_name: str,
        dpop_jkt: str | None,
        now: float,
    ) -> None:
        row = AppInstallationRow(
            family_id=family_id,
            account_id=account_id,
            client_id=client_id,
            device_name=device_name,
            dpop_jkt=dpop_jkt,
            registered_at=now,
        )
        async with self._db.transaction() as session:
            session.add(row)

    async def of_account(
        self, account_id: str, client_ids: Sequence[str], now: float
    ) -> list[AppInstallation]:
        """The account's live installations of ``client_ids`` (a family with a token neither
        revoked nor expired), most recently used first."""
        if not client_ids:
            return []
        tokens = RefreshTokenRow
        live = func.sum(case((tokens.revoked_at.is_(None) & (tokens.expires_at > now), 1), else_=0))
        query = (
            select(
                tokens.family_id,
                tokens.client_id,
                func.min(tokens.created_at),
                func.max(tokens.created_at),
                AppInstallationRow.device_name,
                AppInstallationRow.dpop_jkt,
            )
            .outerjoin(AppInstallationRow, AppInstallationRow.family_id == tokens.family_id)
            .where(tokens.account_id == account_id, tokens.client_id.in_(list(client_ids)))
            .group_by(
                tokens.family_id,
                tokens.client_id,
                AppInstallationRow.device_name,
                AppInstallationRow.dpop_jkt,
            )
            .having(live > 0)
            .order_by(func.max(tokens.created_at).desc())
        )
        async with self._db.sessions() as session:
            rows = (await session.execute(query)).all()
        return [
            AppInstallation(family, account_id, client, name or "", jkt, first, last)
            for family, client, first, last, name, jkt in rows
        ]

    async def forget(self, family_id: str) -> None:
        async with self._db.transaction() as session:
            row = await session.get(AppInstallationRow, family_id)
            if row is not None:
                await session.delete(row)
