"""个人中心: the account centre's home. Who I am, my level, my ways to sign in, my devices, my
apps and my data, each a step from here."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from gateway.account import my_data
from gateway.account.guard import signed_in
from gateway.account.navigation import HOME_PATH, navigation
from gateway.endpoints.authorize import error_page
from gateway.endpoints.end_session import SESSIONS_PATH
from gateway.pages.render import page, request_locale
from gateway.server.services import Services


async def home_page(request: Request) -> Response:
    services: Services = request.app.state.services
    session = await signed_in(request, HOME_PATH)
    if isinstance(session, Response):
        return session
    account = await services.accounts.get(session.account_id)
    if account is None:
        return error_page(request, {}, "expired")
    found = await my_data.identifiers(services, account)
    phone = next((i for i in found if i["type"] == "phone" and i["verified"]), None)
    systems = {d.id: d.name for d in await services.login_systems.all()}
    links = await services.federation.links_of(account.id)
    browser, new_browser = services.csrf.browser_id(request)
    response = page(
        request,
        "account_home.html",
        request_locale(request),
        {
            "nav": navigation(HOME_PATH),
            "display_name": account.name or account.username,
            "username": account.username,
            "kind": account.kind,
            "level": account.assurance,
            "identifiers": [
                {
                    "type": i["type"],
                    "value": my_data.masked_identifier(i["type"], i["value"]),
                    "verified": i["verified"],
                }
                for i in found
            ],
            "has_password": account.password_hash is not None,
            "sms_phone": my_data.masked_identifier("phone", phone["value"]) if phone else None,
            "passkeys": len(await services.passkeys.of_account(account.id)),
            "authenticator": await services.otp.enrolled(account.id),
            "department_logins": [systems.get(x.provider_id, x.provider_id) for x in links],
            "devices": len(await services.sessions.of_account(account.id)),
            "apps": len(await my_data.apps(services, account.id)),
            "sign_out_action": SESSIONS_PATH,
            "sign_out_csrf": services.csrf.token(browser, "sessions"),
            "sid": session.sid,
        },
    )
    if new_browser:
        services.csrf.set_cookie(response, browser)
    return response
