"""A pairwise sector belongs to the departments whose apps already use it: an app of another
department in the same sector would get the same `sub` for each person, so the two departments
could join their records. Only a city-wide administrator shares a sector, with a reason; an app
may share the sector of apps in its own department's subtree (its administrators manage those)."""

from __future__ import annotations

from gateway.admin.changes import Change
from gateway.admin.org import path_of
from gateway.admin.reach import Reach
from gateway.identity.claims import sector_of
from gateway.server.responses import Forbidden, Invalid
from policies.admin_reach import inside
from store import clients as client_store
from store.records import Client

SHARED_SECTOR = (
    "is the pairwise sector of another department's apps (the same `sub` for each person in "
    "both, so the departments could join their records); only a city-wide administrator "
    "shares a sector, with a sector_reason"
)


def _same_owner(before: Client | None, after: Client) -> bool:
    """Whether the app keeps the sector and the department it already had."""
    return (
        before is not None
        and before.subject_type == "pairwise"
        and before.department_id == after.department_id
        and sector_of(before) == sector_of(after)
    )


async def _sharers(change: Change, client: Client) -> list[Client]:
    """Pairwise apps in the app's sector outside its department's subtree (city-wide ones
    included)."""
    if client.subject_type != "pairwise":
        return []
    sector = sector_of(client)
    if sector == client.client_id:  # a native app: a sector of its own
        return []
    own = await path_of(change.session, client.department_id)
    sharers = []
    for other in await client_store.lock_pairwise_clients(change.session):
        same = other.client_id == client.client_id or other.department_id == client.department_id
        if same or sector_of(other) != sector:
            continue
        path = await path_of(change.session, other.department_id)
        if own is None or path is None or not inside(path, own):
            sharers.append(other)
    return sharers


async def sector_decision(
    reach: Reach, before: Client | None, after: Client, reason: str | None, change: Change
) -> None:
    """Refuse (403, audited as admin.denied) an app entering another department's sector,
    unless a city-wide administrator says why; the shared sector is kept in the audit entry."""
    sharers = [] if _same_owner(before, after) else await _sharers(change, after)
    if not sharers:
        if reason is not None:
            raise Invalid.field(
                ["body", "sector_reason"],
                "a reason is given only when the app shares another department's sector",
            )
        return
    sector = sector_of(after)
    if not reach.city_wide:
        raise Forbidden(f"{sector} {SHARED_SECTOR}.")
    if not (reason or "").strip():
        raise Invalid.field(
            ["body", "sector_reason"],
            f"{sector} is the pairwise sector of another department's apps: say why this app "
            "shares it (kept in the audit log)",
        )
    change.extra["shared_sector"] = {
        "sector": sector,
        "apps": sorted(other.client_id for other in sharers),
    }
    change.extra["sector_reason"] = reason.strip()
