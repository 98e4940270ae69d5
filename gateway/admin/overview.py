"""The city at a glance, for city-wide administrators: sign-ins per day (succeeded, failed,
locked) over the last week, the apps signed in to most, and the signing keys with their age.
Read from the audit log and the key ring; shared by the console's 概览."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from gateway.admin.platform import key_documents
from gateway.admin.reach import Reach
from gateway.server.services import Services
from store import audit as audit_store

SIGN_INS = ("login.succeeded", "login.failed", "login.locked")
DAYS = 7
CHINA = timezone(timedelta(hours=8))  # a day is a day in Beijing


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
    async with services.database.sessions() as session:
        counts = await audit_store.count_by_day(session, SIGN_INS, starts)
        top = await audit_store.top_clients(session, "login.succeeded", starts[0])
    days = [
        Day(
            datetime.fromtimestamp(start, CHINA).strftime("%Y-%m-%d"),
            {event: counts[(event, i)] for event in SIGN_INS},
        )
        for i, start in enumerate(starts)
    ]
    apps = []
    for client_id, count in top:
        client = await services.clients.get(client_id)
        apps.append((client_id, client.name if client else client_id, count))
    keys = [
        (key.kid, key.alg, key.state, int((now - key.created_at.timestamp()) // 86400))
        for key in key_documents(services, reach)
    ]
    return Overview(days, apps, keys)
