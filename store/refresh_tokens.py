"""Durable refresh tokens: rotation by compare-and-set, family revocation on reuse."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from sqlalchemy import bindparam, exists, insert, literal_column, select, update

from store.database import Database
from store.records import RefreshToken
from store.tables import RefreshTokenRow

_FIELDS = [f.name for f in fields(RefreshToken)]
_TABLE = RefreshTokenRow.__table__
_COLUMNS = [_TABLE.c[name] for name in _FIELDS]

# The hot statements, built once (SQLAlchemy caches their compiled form) and the same SQL on
# SQLite and PostgreSQL: by digest, insert, and the claim that detects reuse.
_BY_DIGEST = select(*_COLUMNS).where(_TABLE.c.digest == bindparam("digest"))
_INSERT = insert(_TABLE)
_CLAIM = (
    update(_TABLE)
    .where(
        _TABLE.c.digest == bindparam("used_digest"),
        _TABLE.c.used_at.is_(None),
        _TABLE.c.revoked_at.is_(None),
    )
    .values(used_at=bindparam("now", type_=_TABLE.c.used_at.type))
    .returning(_TABLE.c.digest)
)
_NEW = {name: f"new_{name}" for name in _FIELDS}


def _rotation() -> Any:
    """The claim and the successor's INSERT as one statement, one round trip (PostgreSQL runs
    data-modifying CTEs): the INSERT writes a row only if the claim did."""
    claimed = _CLAIM.cte("claimed")
    successor = select(*(bindparam(_NEW[c.name], type_=c.type) for c in _COLUMNS)).where(
        exists(select(literal_column("1")).select_from(claimed))
    )
    return insert(_TABLE).from_select(_FIELDS, successor).add_cte(claimed)


_ROTATION = _rotation()


def _record(row: Any) -> RefreshToken:
    values = dict(zip(_FIELDS, row, strict=True))
    values["amr"] = tuple(values["amr"] or ())
    return RefreshToken(**values)


def _values(token: RefreshToken) -> dict[str, object]:
    # Field by field: dataclasses.asdict deep-copies each value, a tenth of a code exchange's
    # CPU outside the signature for a record of scalars and one tuple.
    values = {name: getattr(token, name) for name in _FIELDS}
    values["amr"] = list(token.amr)
    return values


class RefreshTokenStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def add(self, token: RefreshToken) -> None:
        await self._db.write(_INSERT, _values(token))

    async def get(self, digest: str) -> RefreshToken | None:
        row = await self._db.read_one(_BY_DIGEST, {"digest": digest})
        return None if row is None else _record(row)

    async def rotate(self, used_digest: str, successor: RefreshToken, now: float) -> bool:
        """Mark ``used_digest`` used and store its successor atomically; False (and nothing
        written) when the token was already used or revoked."""
        claim = {"used_digest": used_digest, "now": now}
        if not self._db.is_sqlite:
            new = {_NEW[name]: value for name, value in _values(successor).items()}
            return await self._db.write(_ROTATION, claim | new) == 1
        # SQLite has no data-modifying CTE: the same claim, then the INSERT, in one transaction.
        async with self._db.begin() as connection:
            if (await connection.execute(_CLAIM, claim)).first() is None:
                return False
            await connection.execute(_INSERT, _values(successor))
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

    async def grants_of_account(self, account_id: str) -> dict[str, list[str]]:
        """Every client the account ever gave a refresh token to, with its live families."""
        async with self._db.sessions() as session:
            rows = await session.execute(
                select(
                    RefreshTokenRow.client_id, RefreshTokenRow.family_id, RefreshTokenRow.revoked_at
                )
                .where(RefreshTokenRow.account_id == account_id)
                .distinct()
            )
            grants: dict[str, list[str]] = {}
            for client_id, family_id, revoked_at in rows:
                live = grants.setdefault(client_id, [])
                if revoked_at is None and family_id not in live:
                    live.append(family_id)
            return grants
