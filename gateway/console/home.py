"""The console's first page: who is signed in, where they administer, and the way on."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway.admin.overview import overview
from gateway.console.charts import COLOURS, sign_in_chart
from gateway.console.context import Console, view
from gateway.console.people_pages import shown


@view("console_home")
async def home(console: Console) -> Response:
    reach = console.reach()
    me = await console.services.accounts.get(console.admin.account_id)
    assert me is not None  # admin_for_token found it enabled a moment ago
    me = await console.services.federation.with_phone(me)
    context: dict[str, object] = {"me": shown(me), "reach": reach.paths}
    if reach.city_wide:
        found = await overview(console.services, reach)
        groups, width, top = sign_in_chart(found.days)
        most = max([1, *(count for _, _, count in found.top_apps)])
        context.update(
            overview=found, groups=groups, width=width, top=top, most=most, colours=COLOURS
        )
    return console.page("console_home.html", context)


async def to_home(request: Request) -> Response:
    return RedirectResponse("/admin/", status_code=308)
