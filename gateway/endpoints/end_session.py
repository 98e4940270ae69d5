"""Ending sessions: RP-initiated logout (OIDC RP-Initiated Logout 1.0), propagation by back- and
front-channel logout, and the "my sessions" page.

A post-logout redirect goes only to a URI registered for the client named by a valid
``id_token_hint`` (or ``client_id``); otherwise the user gets a page, never a redirect."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from joserfc.errors import JoseError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway.endpoints.authorize import Transaction, error_page, save_transaction, with_params
from gateway.identity.claims import subject_for
from gateway.identity.sessions import SsoSession
from gateway.oauth.revocations import end_session_grants, revoke_family
from gateway.oauth.tokens_in import verify_own_jwt
from gateway.pages.render import choose_locale, form_action, page
from gateway.server.forms import FormError, parse_params, read_form
from gateway.server.services import Services
from policies.redirect_uris import redirect_uri_matches

END_SESSION_PATH = "/oauth/logout"
SESSIONS_PATH = "/account/sessions"
CONSENTS_PATH = "/account/consents"
LINKS_PATH = "/account/links"
audit = logging.getLogger("yihaotong.audit")


async def end_sso_session(request: Request, sid: str, reason: str) -> list[str]:
    """End a session everywhere: its grants, back-channel notices, and the front-channel URIs
    the browser must load (returned)."""
    services: Services = request.app.state.services
    ended = await services.sessions.end(sid)
    if ended is None:
        return []
    session, client_ids = ended
    await end_session_grants(services, sid)
    frontchannel = []
    for client_id in client_ids:
        client = await services.clients.get(client_id)
        if client is None:
            continue
        if client.backchannel_logout_uri:
            subject = subject_for(client, session.account_id, services.pairwise_key)
            request.app.state.backchannel.notify(
                client.client_id, client.backchannel_logout_uri, subject, sid
            )
        if client.frontchannel_logout_uri:
            frontchannel.append(
                with_params(
                    client.frontchannel_logout_uri, {"iss": services.settings.issuer, "sid": sid}
                )
            )
    audit.info(
        "session ended",
        extra={"fields": {"event": "logout", "reason": reason, "account": session.account_id}},
    )
    return frontchannel


def _clear_cookie(services: Services, response: Response) -> None:
    services.sessions.clear_cookie(response)


def _after_logout(
    request: Request, frontchannel: list[str], redirect_uri: str | None, locale: str
) -> Response:
    services: Services = request.app.state.services
    if redirect_uri and not frontchannel:
        response: Response = RedirectResponse(redirect_uri, status_code=303)
    else:
        response = page(
            request,
            "logged_out.html",
            locale,
            {"frontchannel_uris": frontchannel, "redirect_uri": redirect_uri},
        )
    _clear_cookie(services, response)
    return response


async def end_session_endpoint(request: Request) -> Response:
    services: Services = request.app.state.services
    try:
        if request.method == "POST":
            params = await read_form(request, services.settings.max_form_bytes)
        else:
            params = parse_params(request.url.query)
    except FormError as error:
        return error_page(request, {}, "error_invalid_request", error.description)
    locale = choose_locale(params.get("ui_locales"), request.headers.get("accept-language"))

    hint = None
    if params.get("id_token_hint"):
        try:
            hint = verify_own_jwt(services, params["id_token_hint"], allow_expired=True)
        except (JoseError, ValueError):
            hint = None
    hinted_client = hint.get("aud") if hint else None
    if isinstance(hinted_client, list):
        hinted_client = hinted_client[0] if len(hinted_client) == 1 else None
    client_id = params.get("client_id") or hinted_client
    if params.get("client_id") and hinted_client and params["client_id"] != hinted_client:
        return error_page(request, params, "error_invalid_request", "client_id and hint differ")
    redirect_uri = params.get("post_logout_redirect_uri")
    if redirect_uri:
        client = await services.clients.get(client_id) if client_id else None
        if client is None or not redirect_uri_matches(
            redirect_uri, client.post_logout_redirect_uris, native=client.public
        ):
            return error_page(request, params, "error_invalid_client")
        if params.get("state"):
            redirect_uri = with_params(redirect_uri, {"state": params["state"]})

    session = await services.sessions.from_cookie(
        request.cookies.get(services.sessions.cookie_name)
    )
    confirmed = params.get("decision") == "logout" and services.csrf.valid(
        request, params.get("csrf_token"), "logout"
    )
    if params.get("decision") == "cancel":
        return RedirectResponse(SESSIONS_PATH, status_code=303)
    hint_matches = hint is not None and (session is None or hint.get("sid") == session.sid)
    if session is None or hint_matches or confirmed:
        frontchannel = await end_sso_session(request, session.sid, "rp") if session else []
        return _after_logout(request, frontchannel, redirect_uri, locale)

    # No (valid) hint for this session: ask the user, so no site can sign them out silently.
    browser, new_browser = services.csrf.browser_id(request)
    keep = {
        name: params[name]
        for name in ("post_logout_redirect_uri", "state", "client_id", "ui_locales")
        if name in params
    }
    if hinted_client and "client_id" not in keep:
        keep["client_id"] = hinted_client
    response = page(
        request,
        "logout.html",
        locale,
        {
            "action": END_SESSION_PATH,
            "fields": list(keep.items()),
            "csrf_token": services.csrf.token(browser, "logout"),
        },
        form_action=form_action(redirect_uri or ""),
    )
    if new_browser:
        services.csrf.set_cookie(response, browser)
    return response


def _describe(
    session: SsoSession, current: SsoSession, apps: list[str], names: dict[str, str]
) -> dict[str, object]:
    agent = session.user_agent
    device = next(
        (n for n in ("Android", "iPhone", "Windows", "Mac OS", "Linux") if n in agent), ""
    )
    return {
        "sid": session.sid,
        "current": session.sid == current.sid,
        "device": device or agent[:40] or "—",
        "started": datetime.fromtimestamp(session.created_at, UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "ip": session.ip,
        "apps": "、".join(names.get(c, c) for c in apps),
    }


async def sessions_page(request: Request) -> Response:
    services: Services = request.app.state.services
    locale = choose_locale(
        request.query_params.get("ui_locales"), request.headers.get("accept-language")
    )
    current = await services.sessions.from_cookie(
        request.cookies.get(services.sessions.cookie_name)
    )
    browser, new_browser = services.csrf.browser_id(request)
    if current is None:
        tx_id = await save_transaction(
            services, Transaction(params={}, browser=browser, return_to=SESSIONS_PATH)
        )
        response: Response = RedirectResponse(f"/login?tx={tx_id}", status_code=303)
    else:
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
                    "scopes": " ".join(sorted(scopes)),
                }
            )
        systems = {d.id: d.name for d in await services.login_systems.all()}
        links = [
            {
                "provider_id": link.provider_id,
                "subject": link.subject,
                "name": systems.get(link.provider_id, link.provider_id),
                "last": datetime.fromtimestamp(link.last_login_at, UTC).strftime(
                    "%Y-%m-%d %H:%M UTC"
                ),
            }
            for link in await services.federation.links_of(current.account_id)
        ]
        response = page(
            request,
            "sessions.html",
            locale,
            {
                "sessions": [_describe(s, current, apps[s.sid], names) for s in sessions],
                "csrf_token": services.csrf.token(browser, "sessions"),
                "action": SESSIONS_PATH,
                "consents": consents,
                "consents_csrf": services.csrf.token(browser, "consents"),
                "consents_action": CONSENTS_PATH,
                "links": links,
                "links_csrf": services.csrf.token(browser, "links"),
                "links_action": LINKS_PATH,
            },
        )
    if new_browser:
        services.csrf.set_cookie(response, browser)
    return response


async def _account_form(request: Request, purpose: str) -> tuple[dict[str, str], SsoSession] | None:
    """A form posted from the account page: readable, by a signed-in person, CSRF-checked."""
    services: Services = request.app.state.services
    try:
        form = await read_form(request, services.settings.max_form_bytes)
    except FormError:
        return None
    current = await services.sessions.from_cookie(
        request.cookies.get(services.sessions.cookie_name)
    )
    if current is None or not services.csrf.valid(request, form.get("csrf_token"), purpose):
        return None
    return form, current


async def end_session_submit(request: Request) -> Response:
    services: Services = request.app.state.services
    posted = await _account_form(request, "sessions")
    if posted is None:
        return error_page(request, {}, "expired")
    form, current = posted
    target = await services.sessions.get(form.get("sid", ""))
    if target is None or target.account_id != current.account_id:
        return RedirectResponse(SESSIONS_PATH, status_code=303)
    frontchannel = await end_sso_session(request, target.sid, "user")
    if target.sid == current.sid:
        locale = choose_locale(None, request.headers.get("accept-language"))
        return _after_logout(request, frontchannel, None, locale)
    return RedirectResponse(SESSIONS_PATH, status_code=303)


async def revoke_consent_submit(request: Request) -> Response:
    """Withdraw a consent: the client must ask again, and its refresh tokens end now."""
    services: Services = request.app.state.services
    posted = await _account_form(request, "consents")
    if posted is None:
        return error_page(request, {}, "expired")
    form, current = posted
    client_id = form.get("client_id", "")
    if await services.consents.revoke(current.account_id, client_id):
        for family_id in await services.refresh_tokens.families_of_grant(
            current.account_id, client_id
        ):
            await revoke_family(services, family_id, "consent revoked")
        audit.info(
            "consent revoked",
            extra={"fields": {"event": "consent.revoked", "client": client_id}},
        )
    return RedirectResponse(SESSIONS_PATH, status_code=303)


async def unlink_submit(request: Request) -> Response:
    """Remove a department login from the account (it will be a stranger next time)."""
    services: Services = request.app.state.services
    posted = await _account_form(request, "links")
    if posted is None:
        return error_page(request, {}, "expired")
    form, current = posted
    await services.federation.unlink(
        current.account_id, form.get("provider_id", ""), form.get("subject", "")
    )
    return RedirectResponse(SESSIONS_PATH, status_code=303)
