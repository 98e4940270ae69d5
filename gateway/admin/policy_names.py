"""What an access policy names must exist, and stays while it is named: an id a policy names
before it exists could be created by whoever administers some department, and its people
admitted. Callers hold the tree's lock (``store.organisation.lock_tree``) so that a policy
write and a delete never pass each other."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.admin.reach import Reach
from gateway.identity.client_policy import PolicyDocument
from gateway.server.responses import Clash, Invalid
from store import client_policies, organisation
from store import roles as role_store

# The policy field that names each kind of thing, and what it is called in messages.
NAMED_BY = {"department": "departments", "group": "groups"}


def _unknown(loc: list[str | int], message: str) -> dict[str, Any]:
    return {"loc": loc, "field": ".".join(str(part) for part in loc), "message": message}


async def check_names(
    session: AsyncSession, reach: Reach, client_id: str, document: PolicyDocument
) -> None:
    """422 naming every department or group that does not exist inside the reach (one
    elsewhere gets the same answer) and every role that neither the app nor the city defines."""
    errors: list[dict[str, Any]] = []
    elsewhere = False
    paths = await organisation.department_paths(session, document.departments)
    for index, department_id in enumerate(document.departments):
        path = paths.get(department_id)
        if path is None or not reach.covers(path):
            elsewhere |= path is not None
            message = f"no department {department_id!r} you administer"
            errors.append(_unknown(["body", "departments", index], message))
    groups = await organisation.group_departments(session, document.groups)
    group_paths = await organisation.department_paths(
        session, [d for d in groups.values() if d is not None]
    )
    for index, group_id in enumerate(document.groups):
        found = group_id in groups
        department_id = groups.get(group_id)
        path = group_paths.get(department_id) if department_id is not None else None
        if not found or not reach.covers(path):
            elsewhere |= found
            errors.append(
                _unknown(["body", "groups", index], f"no group {group_id!r} you administer")
            )
    app_roles = await role_store.role_names(session, [client_id, ""])
    global_roles = await role_store.role_names(session, [""])
    for index, name in enumerate(document.roles):
        if name not in app_roles:
            message = f"no role {name!r} of this app or of the city"
            errors.append(_unknown(["body", "roles", index], message))
    for index, name in enumerate(document.claims.global_roles):
        if name not in global_roles:
            message = f"no global role {name!r}"
            errors.append(_unknown(["body", "claims", "global_roles", index], message))
    if errors:
        detail = "; ".join(f"{error['field']}: {error['message']}" for error in errors)
        raise Invalid(detail, errors=errors, denied=elsewhere)


async def refuse_if_named(session: AsyncSession, what: str, thing_id: str) -> None:
    """409 naming the apps whose policy names the department or group about to go."""
    named_by = await client_policies.policies_naming(session, NAMED_BY[what], thing_id)
    if named_by:
        raise Clash(
            f"The access policy of {len(named_by)} app(s) names {what} {thing_id!r}: "
            f"{', '.join(named_by)}. Change those policies first.",
            errors=[
                _unknown(["path", f"{what}_id"], f"named by the access policy of app {app}")
                for app in named_by
            ],
        )


async def refuse_unless_city_wide(
    session: AsyncSession, reach: Reach, what: str, thing_id: str
) -> None:
    """A policy written before names were checked may name an id that does not exist: only a
    city-wide administrator may then create it (409 naming the apps for anyone else)."""
    if not reach.city_wide:
        await refuse_if_named(session, what, thing_id)
