"""The console's first page: who is signed in, where they administer, and the way on."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway.console.context import Console, view
from gateway.console.people_pages import shown


@view("console_home")
async def home(console: Console) -> Response:
    reach = console.reach()
    me = await console.services.accounts.get(console.admin.account_id)
    assert me is not None  # admin_for_token found it enabled a moment ago
    return console.page("console_home.html", {"me": shown(me), "reach": reach.paths})


async def to_home(request: Request) -> Response:
    return RedirectResponse("/admin/", status_code=308)
