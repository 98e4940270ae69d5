"""我的数据: what 一号通 holds about me and which apps received what, on a page (identifiers
masked) and as a JSON download (in full, to its owner; 个人信息保护法 Art. 45)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response

from gateway.account import my_data
from gateway.account.guard import signed_in
from gateway.account.navigation import navigation
from gateway.endpoints.authorize import error_page
from gateway.pages.render import local_time, messages, page, request_locale
from gateway.pages.scopes import labels
from gateway.server.services import Services
from store.phones import PhoneStore
from store.records import AuditEvent

DATA_PATH = "/account/data"
DOWNLOAD_PATH = "/account/data.json"


async def data_page(request: Request) -> Response:
    services: Services = request.app.state.services
    session = await signed_in(request, DATA_PATH)
    if isinstance(session, Response):
        return session
    account = await services.accounts.get(session.account_id)
    if account is None:
        return error_page(request, {}, "expired")
    locale = request_locale(request)
    t = messages(locale)
    zone = services.settings.time_zone
    systems = {d.id: d.name for d in await services.login_systems.all()}
    apps = await my_data.apps(services, account.id)
    agreements = await PhoneStore(services.database).agreements_of(account.id)
    return page(
        request,
        "account_data.html",
        locale,
        {
            "nav": navigation(DATA_PATH),
            "account": account,
            "created": local_time(account.created_at, zone),
            "identifiers": [
                {
                    "type": i["type"],
                    "value": my_data.masked_identifier(i["type"], i["value"]),
                    "verified": i["verified"],
                }
                for i in await my_data.identifiers(services, account)
            ],
            "links": [
                {
                    "name": systems.get(x.provider_id, x.provider_id),
                    "first": local_time(x.first_login_at, zone),
                    "last": local_time(x.last_login_at, zone),
                }
                for x in await services.federation.links_of(account.id)
            ],
            "sessions": len(await services.sessions.of_account(account.id)),
            "apps": [
                {
                    "name": app.name,
                    "scopes": labels(t, app.scopes),
                    "refresh_tokens": app.refresh_tokens,
                    "used": app.used,
                }
                for app in apps
            ],
            "agreements": sorted(agreements.items()),
            "download": DOWNLOAD_PATH,
        },
    )


async def data_download(request: Request) -> Response:
    """Everything, unmasked, as one JSON document; the download is audited."""
    services: Services = request.app.state.services
    session = await signed_in(request, DATA_PATH)
    if isinstance(session, Response):
        return session
    account = await services.accounts.get(session.account_id)
    if account is None:
        return error_page(request, {}, "expired")
    document = {
        "issuer": services.settings.issuer,
        "exported_at": datetime.fromtimestamp(services.clock.now(), UTC).isoformat(),
        **await my_data.everything(services, account),
    }
    await services.audit.record(
        AuditEvent("account.data_exported", actor=account.id, target=account.id),
        request=request,
    )
    stamp = datetime.fromtimestamp(services.clock.now(), UTC).strftime("%Y%m%d")
    return Response(
        json.dumps(document, ensure_ascii=False, indent=2, default=str),
        media_type="application/json; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="yihaotong-my-data-{stamp}.json"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
