"""The city at a glance, for city-wide administrators: sign-ins per day (succeeded, failed,
locked) over the last week, the apps signed in to most, and the signing keys with their age.
Read from the audit log and the key ring; shared by the console's 概览.

A day that has ended is counted once by each process and remembered (on a large city a week
of the audit log is hundreds of thousands of entries); only today is counted on every view."""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.admin.platform import key_documents
from gateway.admin.reach import Reach
from gateway.server.services import Services
from store import audit as audit_store
from store.database import Database

SIGN_INS = ("login.succeeded", "login.failed", "login.locked")
DAYS = 7
CHINA = timezone(timedelta(hours=8))  # a day is a day in Beijing
TOP = 5


@dataclass(frozen=True)
class _Counted:
    counts: dict[str, int]  # event -> how many that day
    apps: dict[str, int]  # client id -> sign-ins that day


# Per database: day start -> what was counted of that day once it had ended.
_ENDED: weakref.WeakKeyDictionary[Database, dict[float, _Counted]] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class Day:
    date: str  # YYYY-MM-DD
    counts: dict[str, int]  # event -> how many


@dataclass(frozen=True)
class Overview:
    days: list[Day]
    top_apps: list[tuple[str, str, int]]  # client id, name, sign-ins this week
    keys: list[tuple[str, str, str, int]]  # kid, alg, state, age in days


def day_starts(now: float, days: int = DAYS) -> list[float]:
    today = datetime.fromtimestamp(now, CHINA).replace(hour=0, minute=0, second=0, microsecond=0)
    return [(today - timedelta(days=back)).timestamp() for back in range(days - 1, -1, -1)]


async def overview(services: Services, reach: Reach) -> Overview:
    reach.require_city_wide("the overview of the city")
    await services.audit.flush()
    now = services.clock.now()
    starts = day_starts(now)
    ended = _ENDED.setdefault(services.database, {})
    async with services.database.sessions() as session:
        counted = await _count_days(session, [s for s in starts[:-1] if s not in ended], starts)
    ended.update({start: counted[start] for start in starts[:-1] if start in counted})
    for start in list(ended):
        if start < starts[0]:
            del ended[start]  # out of the week
    week = [ended.get(start) or counted[start] for start in starts]
    days = [
        Day(datetime.fromtimestamp(start, CHINA).strftime("%Y-%m-%d"), day.counts)
        for start, day in zip(starts, week, strict=True)
    ]
    totals: dict[str, int] = {}
    for day in week:
        for client_id, n in day.apps.items():
            totals[client_id] = totals.get(client_id, 0) + n
    top = sorted(totals.items(), key=lambda item: (-item[1], item[0]))[:TOP]
    apps = []
    for client_id, count in top:
        client = await services.clients.get(client_id)
        apps.append((client_id, client.name if client else client_id, count))
    keys = [
        (key.kid, key.alg, key.state, int((now - key.created_at.timestamp()) // 86400))
        for key in key_documents(services, reach)
    ]
    return Overview(days, apps, keys)


async def _count_days(
    session: AsyncSession, missing: list[float], starts: list[float]
) -> dict[float, _Counted]:
    """Counts of the ended days ``missing`` and of today (the last of ``starts``)."""
    wanted = [*missing, starts[-1]]
    ends = {start: end for start, end in zip(starts, [*starts[1:], None], strict=True)}
    found = {}
    for start in wanted:
        counts = await audit_store.count_by_day(session, SIGN_INS, [start], ends[start])
        apps = await audit_store.top_clients(
            session, "login.succeeded", start, limit=None, until=ends[start]
        )
        found[start] = _Counted({event: counts[(event, 0)] for event in SIGN_INS}, dict(apps))
    return found
