"""Durable OAuth client registrations."""

from __future__ import annotations

from dataclasses import asdict, fields

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from store.database import Database
from store.errors import Conflict
from store.records import Client
from store.tables import ClientRow

_FIELDS = [f.name for f in fields(Client)]
_LISTS = {"redirect_uris", "post_logout_redirect_uris", "grant_types", "scopes"}


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
