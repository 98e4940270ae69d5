"""An app's lifecycle (``policies/app_lifecycle.py``), changed by whoever may edit the app:
shared by the REST API, the console and the command line."""

from __future__ import annotations

from gateway.admin.apps import visible_client
from gateway.admin.changes import Actor, change
from gateway.admin.etags import NONE, Precondition, etag_of
from gateway.admin.reach import Reach
from gateway.identity.console_client import CONSOLE_CLIENT_ID
from gateway.server.responses import Clash
from gateway.server.services import Services
from policies.app_lifecycle import LIVE, change_problem
from store import clients as client_store
from store.records import Client


async def set_state(
    services: Services,
    actor: Actor,
    reach: Reach,
    client_id: str,
    state: str,
    pre: Precondition = NONE,
) -> Client:
    """Move the app to ``state``; 409 when its lifecycle does not allow it (retired is final).
    Out of service, its sign-ins, token requests and refresh tokens are refused at once on
    this instance (elsewhere within the client cache's seconds)."""
    async with change(services, actor, "admin.client.state_changed", client_id) as c:
        before = await visible_client(c.session, reach, client_id, changing=True)
        pre.check(etag_of(before))
        if problem := change_problem(before.state, state):
            raise Clash(problem)
        if client_id == CONSOLE_CLIENT_ID and state != LIVE:
            raise Clash("the console's own app stays live (the console signs in through it)")
        c.before = before
        c.extra["state"] = {"before": before.state, "after": state}
        c.after = await client_store.update_client(
            c.session,
            client_id,
            before.updated_at if pre.given else None,
            {"state": state},
            services.clock.now(),
        )
    services.clients.forget(client_id)
    services.access.forget(client_id)
    return c.after
