"""The devices and provinces each account has signed in from: a few rows an account, the
oldest forgotten beyond a bound, so that the table stays small however often people sign in."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from store.database import Database
from store.tables import SignInPlaceRow

KEEP = {"device": 20, "province": 20}  # remembered an account and kind; the oldest go first
KINDS = frozenset(KEEP)
_KNOWN = select(SignInPlaceRow.kind, SignInPlaceRow.value).where(
    SignInPlaceRow.account_id == bindparam("account_id")
)
_COLUMNS = ("account_id", "kind", "value", "last_seen")
_TABLE = SignInPlaceRow.__table__


def _upsert(dialect: Any, rows: int) -> Any:
    """The upsert of ``rows`` places, by bound names ``<column><n>``: built once, compiled once."""
    insert = dialect.insert(SignInPlaceRow).values(
        [{c: bindparam(f"{c}{n}", type_=_TABLE.c[c].type) for c in _COLUMNS} for n in range(rows)]
    )
    return insert.on_conflict_do_update(
        index_elements=["account_id", "kind", "value"],
        set_={"last_seen": insert.excluded.last_seen},
    )


_UPSERTS = {dialect: [_upsert(dialect, n) for n in (1, 2)] for dialect in (postgresql, sqlite)}


class SignInPlaceStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def known(self, account_id: str) -> dict[str, set[str]]:
        """Each kind's remembered values for the account."""
        places: dict[str, set[str]] = {kind: set() for kind in KEEP}
        for kind, value in await self._db.read(_KNOWN, {"account_id": account_id}):
            places.setdefault(kind, set()).add(value)
        return places

    async def remember(
        self, account_id: str, seen: dict[str, str], now: float, full: frozenset[str] = KINDS
    ) -> None:
        """Remember ``seen`` (kind -> value; an empty value is skipped) as seen ``now``, and
        forget what falls beyond the bound of each kind in ``full`` (those that may be at it:
        the others need no statement). One transaction."""
        rows = [
            {"account_id": account_id, "kind": kind, "value": value[:64], "last_seen": now}
            for kind, value in seen.items()
            if value
        ]
        if not rows:
            return
        dialect = sqlite if self._db.is_sqlite else postgresql
        if len(rows) <= len(KEEP) and not {row["kind"] for row in rows} & full:
            # Nothing to forget (the common case): one statement, committing alone.
            bound = {f"{k}{n}": v for n, row in enumerate(rows) for k, v in row.items()}
            await self._db.write(_UPSERTS[dialect][len(rows) - 1], bound)
            return
        insert = dialect.insert(SignInPlaceRow)
        upsert = insert.on_conflict_do_update(
            index_elements=["account_id", "kind", "value"],
            set_={"last_seen": insert.excluded.last_seen},
        )
        async with self._db.transaction() as session:
            await session.execute(upsert, rows)
            for kind in sorted({row["kind"] for row in rows} & full):
                kept = (
                    select(SignInPlaceRow.value)
                    .where(SignInPlaceRow.account_id == account_id, SignInPlaceRow.kind == kind)
                    .order_by(SignInPlaceRow.last_seen.desc(), SignInPlaceRow.value)
                    .limit(KEEP.get(kind, 20))
                )
                await session.execute(
                    delete(SignInPlaceRow).where(
                        SignInPlaceRow.account_id == account_id,
                        SignInPlaceRow.kind == kind,
                        SignInPlaceRow.value.not_in(kept.scalar_subquery()),
                    )
                )
