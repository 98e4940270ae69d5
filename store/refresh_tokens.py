"""Durable refresh tokens: rotation by compare-and-set, family revocation on reuse."""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any

from sqlalchemy import bindparam, insert, select, update

from store.database import Database
from store.records import RefreshToken
from store.sql_values import column_casts, epoch, json_list, timestamp
from store.tables import RefreshTokenRow

_FIELDS = [f.name for f in fields(RefreshToken)]
_BY_DIGEST = select(RefreshTokenRow.__table__).where(RefreshTokenRow.digest == bindparam("digest"))


def _record(row: RefreshTokenRow) -> RefreshToken:
    values = {name: getattr(row, name) for name in _FIELDS}
    values["amr"] = tuple(values["amr"] or ())
    return RefreshToken(**values)


def _values(token: RefreshToken) -> dict[str, object]:
    # Field by field: dataclasses.asdict deep-copies each value, a tenth of a code exchange's
    # CPU outside the signature for a record of scalars and one tuple.
    values = {name: getattr(token, name) for name in _FIELDS}
    values["amr"] = list(token.amr)
    return values


def _row(token: RefreshToken) -> RefreshTokenRow:
    return RefreshTokenRow(**_values(token))


# The same three statements for PostgreSQL's driver (store/hot.py): by digest, insert, rotation.
_TABLE = RefreshTokenRow.__table__
_COLUMNS = ", ".join(_FIELDS)
_HOT_BY_DIGEST = f"SELECT {_COLUMNS} FROM refresh_tokens WHERE digest = $1"  # noqa: S608
_HOT_INSERT = (
    f"INSERT INTO refresh_tokens ({_COLUMNS}) "  # noqa: S608 - column names, not input
    f"VALUES ({', '.join(f'${n}' for n in range(1, len(_FIELDS) + 1))})"
)
_SUCCESSOR = ", ".join(column_casts(_TABLE, ["used_at", "digest", *_FIELDS])[2:])
_HOT_ROTATION = (
    "WITH claimed AS (UPDATE refresh_tokens SET used_at = $1 WHERE digest = $2"  # noqa: S608
    " AND used_at IS NULL AND revoked_at IS NULL RETURNING digest) "
    f"INSERT INTO refresh_tokens ({_COLUMNS}) SELECT {_SUCCESSOR} "
    "WHERE EXISTS (SELECT 1 FROM claimed)"
)
_TIMES = ("auth_time", "created_at", "expires_at", "used_at", "revoked_at")


def _hot_record(row: Any) -> RefreshToken:
    values = dict(row)
    for name in _TIMES:
        values[name] = epoch(values[name])
    values["amr"] = tuple(json_list(values["amr"]))
    return RefreshToken(**values)


def _hot_values(token: RefreshToken) -> list[Any]:
    values = _values(token)
    for name in _TIMES:
        values[name] = timestamp(values[name])  # type: ignore[arg-type]
    values["amr"] = json.dumps(values["amr"])
    return [values[name] for name in _FIELDS]


class RefreshTokenStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def add(self, token: RefreshToken) -> None:
        if self._db.hot is not None:
            await self._db.hot.execute(_HOT_INSERT, *_hot_values(token))
            return
        async with self._db.statement() as connection:
            await connection.execute(insert(RefreshTokenRow.__table__), [_values(token)])

    async def get(self, digest: str) -> RefreshToken | None:
        if self._db.hot is not None:
            found = await self._db.hot.fetchrow(_HOT_BY_DIGEST, digest)
            return None if found is None else _hot_record(found)
        async with self._db.statement() as connection:
            result = await connection.execute(_BY_DIGEST, {"digest": digest})
            row = result.first()
            return None if row is None else _record(row)

    async def rotate(self, used_digest: str, successor: RefreshToken, now: float) -> bool:
        """Mark ``used_digest`` used and store its successor atomically; False (and nothing
        written) when the token was already used or revoked."""
        if self._db.hot is not None:
            # One statement, one round trip: the INSERT happens only if the UPDATE claimed the
            # token (PostgreSQL runs data-modifying CTEs; SQLite does not).
            tag = await self._db.hot.execute(
                _HOT_ROTATION, timestamp(now), used_digest, *_hot_values(successor)
            )
            return tag == "INSERT 0 1"
        async with self._db.transaction() as session:
            result = await session.execute(
                update(RefreshTokenRow)
                .where(
                    RefreshTokenRow.digest == used_digest,
                    RefreshTokenRow.used_at.is_(None),
                    RefreshTokenRow.revoked_at.is_(None),
                )
                .values(used_at=now)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return False
            session.add(_row(successor))
        return True

    async def revoke_family(self, family_id: str, now: float) -> list[str]:
        """Revoke every token of the family; returns the jtis of access tokens issued with
        them, so those can be revoked too."""
        async with self._db.transaction() as session:
            jtis = await session.scalars(
                select(RefreshTokenRow.access_jti).where(RefreshTokenRow.family_id == family_id)
            )
            access_jtis = [jti for jti in jtis if jti]
            await session.execute(
                update(RefreshTokenRow)
                .where(RefreshTokenRow.family_id == family_id, RefreshTokenRow.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        return access_jtis

    async def families_of_session(self, sid: str) -> list[str]:
        """Families bound to an SSO session (not offline ones): they end with the session."""
        async with self._db.sessions() as session:
            rows = await session.scalars(
                select(RefreshTokenRow.family_id)
                .where(
                    RefreshTokenRow.sid == sid,
                    RefreshTokenRow.offline.is_(False),
                    RefreshTokenRow.revoked_at.is_(None),
                )
                .distinct()
            )
            return list(rows)

    async def families_of_grant(self, account_id: str, client_id: str) -> list[str]:
        """Live families an account granted a client (to end with a revoked consent)."""
        async with self._db.sessions() as session:
            rows = await session.scalars(
                select(RefreshTokenRow.family_id)
                .where(
                    RefreshTokenRow.account_id == account_id,
                    RefreshTokenRow.client_id == client_id,
                    RefreshTokenRow.revoked_at.is_(None),
                )
                .distinct()
            )
            return list(rows)
