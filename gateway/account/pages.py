"""The person's own pages: my sessions, the consents given and the linked department logins,
each withdrawn by a CSRF-checked form."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway.account.guard import signed_in
from gateway.account.navigation import navigation
from gateway.endpoints.authorize import error_page
from gateway.endpoints.end_session import SESSIONS_PATH, after_logout, end_sso_session
from gateway.identity.regions import Region
from gateway.identity.sessions import SsoSession
from gateway.mobile.devices import DEVICES_PATH, described, end_installation, installations
from gateway.oauth.revocations import revoke_family
from gateway.pages.render import Messages, local_time, messages, page, request_locale
from gateway.pages.scopes import labels as scope_labels
from gateway.pages.second_factor import current_session
from gateway.pages.sign_in_place import region_text
from gateway.server.forms import FormError, read_form
from gateway.server.services import Services
from store.records import AuditEvent

CONSENTS_PATH = "/account/consents"
LINKS_PATH = "/account/links"


def _describe(
    session: SsoSession,
    current: SsoSession,
    apps: list[str],
    names: dict[str, str],
    t: Messages,
    zone: str,
) -> dict[str, object]:
    agent = session.user_agent
    device = next(
        (n for n in ("Android", "iPhone", "Windows", "Mac OS", "Linux") if n in agent), ""
    )
    return {
        "sid": session.sid,
        "current": session.sid == current.sid,
        "device": device or agent[:40] or "—",
        "started": local_time(session.created_at, zone),
        "ip": session.ip,
        "region": region_text(Region.from_dict(session.region), t),
        "apps": t.list_separator.join(names.get(c, c) for c in apps),
    }


async def sessions_page(request: Request) -> Response:
    services: Services = request.app.state.services
    current = await signed_in(request, SESSIONS_PATH)
    if isinstance(current, Response):
        return current
    locale = request_locale(request)
    t = messages(locale)
    zone = services.settings.time_zone
    browser, new_browser = services.csrf.browser_id(request)
    account = await services.accounts.get(current.account_id)
    sessions = await services.sessions.of_account(current.account_id)
    apps = {s.sid: await services.sessions.clients_of(s.sid) for s in sessions}
    names = {}
    for client_id in {c for ids in apps.values() for c in ids}:
        client = await services.clients.get(client_id)
        names[client_id] = client.name if client else client_id
    consents = []
    for client_id, scopes in (await services.consents.of_account(current.account_id)).items():
        client = await services.clients.get(client_id)
        consents.append(
            {
                "client_id": client_id,
                "name": client.name if client else client_id,
                "scopes": scope_labels(t, scopes),
            }
        )
    systems = {d.id: d.name for d in await services.login_systems.all()}
    links = [
        {
            "provider_id": link.provider_id,
            "subject": link.subject,
            "name": systems.get(link.provider_id, link.provider_id),
            "last": local_time(link.last_login_at, zone),
        }
        for link in await services.federation.links_of(current.account_id)
    ]
    devices = await app_devices(services, current.account_id)
    response = page(
        request,
        "sessions.html",
        locale,
        {
            "nav": navigation(SESSIONS_PATH),
            "who": (account.name or account.username) if account else "—",
            "current_sid": current.sid,
            "sessions": [_describe(s, current, apps[s.sid], names, t, zone) for s in sessions],
            "csrf_token": services.csrf.token(browser, "sessions"),
            "action": SESSIONS_PATH,
            "consents": consents,
            "consents_csrf": services.csrf.token(browser, "consents"),
            "consents_action": CONSENTS_PATH,
            "links": links,
            "links_csrf": services.csrf.token(browser, "links"),
            "links_action": LINKS_PATH,
            "devices": devices,
            "devices_csrf": services.csrf.token(browser, "devices"),
            "devices_action": DEVICES_PATH,
        },
    )
    if new_browser:
        services.csrf.set_cookie(response, browser)
    return response


async def app_devices(services: Services, account_id: str) -> list[dict[str, object]]:
    found = await installations(services, account_id)
    names = {}
    for client_id in {i.client_id for i in found}:
        client = await services.clients.get(client_id)
        names[client_id] = client.name if client else client_id
    return [described(i, names) for i in found]


async def end_device_submit(request: Request) -> Response:
    """End one of the person's app installations: its refresh tokens are revoked."""
    services: Services = request.app.state.services
    posted = await account_form(request, "devices")
    if posted is None:
        return error_page(request, {}, "expired")
    form, current = posted
    await end_installation(
        services, current.account_id, form.get("device", ""), current.account_id, request
    )
    return RedirectResponse(SESSIONS_PATH, status_code=303)


async def account_form(request: Request, purpose: str) -> tuple[dict[str, str], SsoSession] | None:
    """A form posted from the account page: readable, by a signed-in person, CSRF-checked."""
    services: Services = request.app.state.services
    try:
        form = await read_form(request, services.settings.max_form_bytes)
    except FormError:
        return None
    current = await current_session(request)
    if current is None or not services.csrf.valid(request, form.get("csrf_token"), purpose):
        return None
    return form, current


async def end_session_submit(request: Request) -> Response:
    services: Services = request.app.state.services
    posted = await account_form(request, "sessions")
    if posted is None:
        return error_page(request, {}, "expired")
    form, current = posted
    target = await services.sessions.get(form.get("sid", ""))
    if target is None or target.account_id != current.account_id:
        return RedirectResponse(SESSIONS_PATH, status_code=303)
    frontchannel = await end_sso_session(request, target.sid, "user")
    if target.sid == current.sid:
        locale = request_locale(request)
        return after_logout(request, frontchannel, None, locale)
    return RedirectResponse(SESSIONS_PATH, status_code=303)


async def revoke_consent_submit(request: Request) -> Response:
    """Withdraw a consent: the client must ask again, and its refresh tokens end now."""
    services: Services = request.app.state.services
    posted = await account_form(request, "consents")
    if posted is None:
        return error_page(request, {}, "expired")
    form, current = posted
    client_id = form.get("client_id", "")
    if await services.consents.revoke(current.account_id, client_id):
        for family_id in await services.refresh_tokens.families_of_grant(
            current.account_id, client_id
        ):
            await revoke_family(services, family_id, "consent revoked")
        await services.audit.record(
            AuditEvent(
                "consent.revoked",
                actor=current.account_id,
                target=current.account_id,
                client_id=client_id,
            ),
            request=request,
        )
    return RedirectResponse(SESSIONS_PATH, status_code=303)


async def unlink_submit(request: Request) -> Response:
    """Remove a department login from the account (it will be a stranger next time)."""
    services: Services = request.app.state.services
    posted = await account_form(request, "links")
    if posted is None:
        return error_page(request, {}, "expired")
    form, current = posted
    await services.federation.unlink(
        current.account_id, form.get("provider_id", ""), form.get("subject", "")
    )
    return RedirectResponse(SESSIONS_PATH, status_code=303)
