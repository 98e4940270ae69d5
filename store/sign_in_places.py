"""The devices and provinces each account has signed in from: a few rows an account, the
oldest forgotten beyond a bound, so that the table stays small however often people sign in."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

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


def _known_then_seen(rows: int) -> Any:
    """The account's places, with ``rows`` places upserted by the same statement: a WITH that
    writes, whose sibling read sees the table as it was before (one PostgreSQL snapshot)."""
    return _KNOWN.add_cte(_upsert(postgresql, rows).cte("seen"))


_KNOWN_THEN_SEEN = [_known_then_seen(n) for n in (1, 2)]


class SignInPlaceStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def known(self, account_id: str) -> dict[str, set[str]]:
        """Each kind's remembered values for the account."""
        places: dict[str, set[str]] = {kind: set() for kind in KEEP}
        for kind, value in await self._db.read(_KNOWN, {"account_id": account_id}):
            places.setdefault(kind, set()).add(value)
        return places

    async def arrive(
        self, account_id: str, seen: dict[str, str], now: float
    ) -> dict[str, set[str]]:
        """``known``, then ``remember`` of ``seen`` at ``now``: on PostgreSQL one statement,
        and a second only for a kind that was at its bound."""
        rows = _rows(account_id, seen, now)
        if self._db.is_sqlite or not 0 < len(rows) <= len(_KNOWN_THEN_SEEN):
            known = await self.known(account_id)
            await self.remember(account_id, seen, now, full_kinds(known))
            return known
        bound = {f"{k}{n}": v for n, row in enumerate(rows) for k, v in row.items()}
        places: dict[str, set[str]] = {kind: set() for kind in KEEP}
        # Repeated after a lost connection, the upsert writes the same row again: harmless.
        statement = _KNOWN_THEN_SEEN[len(rows) - 1]
        for kind, value in await self._db.read(statement, {**bound, "account_id": account_id}):
            places.setdefault(kind, set()).add(value)
        full = full_kinds(places) & {row["kind"] for row in rows}
        if full:
            async with self._db.transaction() as session:
                await _forget_beyond(session, account_id, full)
        return places

    async def remember(
        self, account_id: str, seen: dict[str, str], now: float, full: frozenset[str] = KINDS
    ) -> None:
        """Remember ``seen`` (kind -> value; an empty value is skipped) as seen ``now``, and
        forget what falls beyond the bound of each kind in ``full`` (those that may be at it:
        the others need no statement). One transaction."""
        rows = _rows(account_id, seen, now)
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
            await _forget_beyond(session, account_id, {row["kind"] for row in rows} & full)


def full_kinds(known: dict[str, set[str]]) -> frozenset[str]:
    """The kinds whose remembered values are at their bound."""
    return frozenset(kind for kind, values in known.items() if len(values) >= KEEP[kind])


def _rows(account_id: str, seen: dict[str, str], now: float) -> list[dict[str, Any]]:
    return [
        {"account_id": account_id, "kind": kind, "value": value[:64], "last_seen": now}
        for kind, value in seen.items()
        if value
    ]


async def _forget_beyond(session: AsyncSession, account_id: str, kinds: set[str]) -> None:
    for kind in sorted(kinds):
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
