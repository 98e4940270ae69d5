"""Durable OAuth client registrations."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, fields
from typing import Any

from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from store.admin import delete_stamped, in_subtrees, page, update_stamped
from store.database import Database
from store.errors import Conflict
from store.records import Client
from store.tables import ClientPolicyRow, ClientRow, RoleAssignmentRow, RoleRow

_FIELDS = [f.name for f in fields(Client)]
_LISTS = {"redirect_uris", "post_logout_redirect_uris", "grant_types", "scopes", "service_urls"}
_PG_CAS_SERVICES_LOCK = 0x59_48_54_03  # beside the organisation tree's lock
_PG_PAIRWISE_LOCK = 0x59_48_54_04


def _record(row: ClientRow) -> Client:
    values = {name: getattr(row, name) for name in _FIELDS}
    for name in _LISTS:
        values[name] = tuple(values[name])
    return Client(**values)


def _row(client: Client) -> ClientRow:
    values = asdict(client)
    for name in _LISTS:
        values[name] = list(values[name])
    return ClientRow(**values)


class ClientStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def create(self, client: Client) -> Client:
        try:
            async with self._db.transaction() as session:
                session.add(_row(client))
        except IntegrityError as error:
            raise Conflict(f"client id {client.client_id!r} is taken") from error
        return client

    async def get(self, client_id: str) -> Client | None:
        async with self._db.sessions() as session:
            row = await session.get(ClientRow, client_id)
            return None if row is None else _record(row)

    async def list(self) -> list[Client]:
        async with self._db.sessions() as session:
            rows = await session.scalars(select(ClientRow).order_by(ClientRow.created_at))
            return [_record(row) for row in rows]


# -- administration: functions that take the caller's session (the change and its audit entry
# commit together) ----------------------------------------------------------------------------


async def insert_client(session: AsyncSession, client: Client) -> Client:
    if await session.get(ClientRow, client.client_id) is not None:
        raise Conflict(f"client id {client.client_id!r} is taken")
    session.add(_row(client))
    await session.flush()
    return client


async def get_client(session: AsyncSession, client_id: str) -> Client | None:
    row = await session.get(ClientRow, client_id, populate_existing=True)
    return None if row is None else _record(row)


async def list_clients(
    session: AsyncSession,
    paths: Sequence[str] | None,
    offset: int,
    limit: int,
    department_id: str | None = None,
    name: str | None = None,
) -> tuple[list[Client], int]:
    """Clients owned by departments inside the subtrees ``paths`` (None: every client)."""
    query = select(ClientRow)
    if (limit_to := in_subtrees(ClientRow.department_id, paths)) is not None:
        query = query.where(limit_to)
    if department_id is not None:
        query = query.where(ClientRow.department_id == department_id)
    if name is not None:
        query = query.where(ClientRow.name.contains(name, autoescape=True))
    rows, total = await page(
        session, query, [ClientRow.created_at, ClientRow.client_id], offset, limit
    )
    return [_record(row) for row in rows], total


async def _lock(session: AsyncSession, key: int) -> None:
    """A lock held until the transaction ends."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    else:  # SQLite: a write, even of no row, takes the database's one write lock until commit
        await session.execute(
            update(ClientRow)
            .where(ClientRow.client_id.is_(None))
            .values(name=ClientRow.name)
            .execution_options(synchronize_session=False)
        )


async def lock_cas_services(session: AsyncSession) -> list[Client]:
    """The CAS apps, read under a lock held until the transaction ends: two registrations each
    checked against the service URLs the other was adding would both pass."""
    await _lock(session, _PG_CAS_SERVICES_LOCK)
    rows = await session.scalars(
        select(ClientRow)
        .where(ClientRow.protocol == "cas")
        .execution_options(populate_existing=True)
    )
    return [_record(row) for row in rows]


async def lock_pairwise_clients(session: AsyncSession) -> list[Client]:
    """The apps with pairwise subjects, read under a lock held until the transaction ends: two
    departments registering on one host at once would each find the sector free."""
    await _lock(session, _PG_PAIRWISE_LOCK)
    rows = await session.scalars(
        select(ClientRow)
        .where(ClientRow.subject_type == "pairwise")
        .execution_options(populate_existing=True)
    )
    return [_record(row) for row in rows]


async def update_client(
    session: AsyncSession,
    client_id: str,
    expected_updated_at: float | None,
    values: dict[str, Any],
    now: float,
) -> Client:
    """Change the client if it still is as the editor read it (StaleVersion otherwise)."""
    for name in _LISTS & set(values):
        values[name] = list(values[name])
    row = await update_stamped(
        session, ClientRow, ClientRow.client_id, client_id, expected_updated_at, values, now
    )
    return _record(row)


async def delete_client(
    session: AsyncSession, client_id: str, expected_updated_at: float | None
) -> None:
    """Delete the client with its policy, its roles and their assignments."""
    await delete_stamped(session, ClientRow, ClientRow.client_id, client_id, expected_updated_at)
    roles = select(RoleRow.id).where(RoleRow.client_id == client_id)
    await session.execute(delete(RoleAssignmentRow).where(RoleAssignmentRow.role_id.in_(roles)))
    await session.execute(delete(RoleRow).where(RoleRow.client_id == client_id))
    await session.execute(delete(ClientPolicyRow).where(ClientPolicyRow.client_id == client_id))
