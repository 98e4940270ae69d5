"""Durable refresh tokens: rotation by compare-and-set, family revocation on reuse."""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any

from sqlalchemy import bindparam, exists, insert, select, update

from store.database import Database
from store.records import RefreshToken
from store.tables import RefreshTokenRow

_FIELDS = [f.name for f in fields(RefreshToken)]
_BY_DIGEST = select(RefreshTokenRow.__table__).where(RefreshTokenRow.digest == bindparam("digest"))


def _record(row: RefreshTokenRow) -> RefreshToken:
    values = {name: getattr(row, name) for name in _FIELDS}
    values["amr"] = tuple(values["amr"] or ())
    return RefreshToken(**values)


def _values(token: RefreshToken) -> dict[str, object]:
    values = asdict(token)
    values["amr"] = list(values["amr"])
    return values


def _row(token: RefreshToken) -> RefreshTokenRow:
    return RefreshTokenRow(**_values(token))


def _rotation_statement() -> Any:
    """Built once (building and caching a statement costs more than running it): the values
    arrive as parameters, ``used_digest`` and ``now`` plus one per column of the successor."""
    table = RefreshTokenRow.__table__
    claimed = (
        update(table)
        .where(
            table.c.digest == bindparam("used_digest"),
            table.c.used_at.is_(None),
            table.c.revoked_at.is_(None),
        )
        .values(used_at=bindparam("now", type_=table.c.used_at.type))
        .returning(table.c.digest)
        .cte("claimed")
    )
    row = select(*[bindparam(f"new_{c.name}", type_=c.type) for c in table.columns])
    return insert(table).from_select(
        [column.name for column in table.columns], row.where(exists(select(claimed.c.digest)))
    )


_ROTATION = _rotation_statement()


class RefreshTokenStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def add(self, token: RefreshToken) -> None:
        async with self._db.statement() as connection:
            await connection.execute(insert(RefreshTokenRow.__table__), [_values(token)])

    async def get(self, digest: str) -> RefreshToken | None:
        async with self._db.statement() as connection:
            result = await connection.execute(_BY_DIGEST, {"digest": digest})
            row = result.first()
            return None if row is None else _record(row)

    async def mark_used(self, digest: str, now: float) -> bool:
        """Claim a token for rotation; exactly one of concurrent callers gets True."""
        async with self._db.transaction() as session:
            result = await session.execute(
                update(RefreshTokenRow)
                .where(
                    RefreshTokenRow.digest == digest,
                    RefreshTokenRow.used_at.is_(None),
                    RefreshTokenRow.revoked_at.is_(None),
                )
                .values(used_at=now)
            )
            return result.rowcount == 1  # type: ignore[attr-defined]

    async def rotate(self, used_digest: str, successor: RefreshToken, now: float) -> bool:
        """Mark ``used_digest`` used and store its successor atomically; False (and nothing
        written) when the token was already used or revoked."""
        if not self._db.is_sqlite:
            # One statement, one round trip: the INSERT happens only if the UPDATE claimed the
            # token (PostgreSQL runs data-modifying CTEs; SQLite does not).
            async with self._db.statement() as connection:
                parameters = {f"new_{k}": v for k, v in _values(successor).items()}
                parameters.update(used_digest=used_digest, now=now)
                result = await connection.execute(_ROTATION, parameters)
                return result.rowcount == 1
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
