"""Ending sessions: RP-initiated logout (OIDC RP-Initiated Logout 1.0), propagation by back- and
front-channel logout.

A post-logout redirect goes only to a URI registered for the client named by a valid
``id_token_hint`` (or ``client_id``); otherwise the user gets a page, never a redirect."""

from __future__ import annotations

import logging
from collections.abc import Callable

from joserfc.errors import JoseError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway.endpoints.responses import error_page, with_params
from gateway.identity.claims import subject_for
from gateway.identity.sessions import SessionApp, SsoSession
from gateway.oauth.revocations import end_session_grants
from gateway.oauth.tokens_in import verify_own_jwt
from gateway.pages.render import form_action, page, request_locale
from gateway.server.forms import FormError, parse_params, read_form
from gateway.server.services import Services
from policies.redirect_uris import redirect_uri_matches
from store.records import Client

END_SESSION_PATH = "/oauth/logout"
SESSIONS_PATH = "/account/sessions"  # where a cancelled logout goes back to
audit = logging.getLogger("yihaotong.audit")
# A protocol's single logout for one app of an ended session: it starts the delivery (in the
# background, retried and audited) and returns at once.
LogoutChannel = Callable[[Request, Client, SsoSession, SessionApp], object]


async def end_sso_session(request: Request, sid: str, reason: str) -> list[str]:
    """End a session everywhere: its grants, each app's single logout by its protocol (OIDC
    back-channel here, the others through ``app.state.logout_channels``), and the OIDC
    front-channel URIs the browser must load (returned)."""
    services: Services = request.app.state.services
    ended = await services.sessions.end(sid)
    if ended is None:
        return []
    session, apps = ended
    await end_session_grants(services, sid)
    frontchannel = []
    channels: dict[str, LogoutChannel] = request.app.state.logout_channels
    for app in apps:
        client = await services.clients.get(app.client_id)
        if client is None:
            continue
        if app.protocol != "oidc":
            if (channel := channels.get(app.protocol)) is not None:
                channel(request, client, session, app)
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


def after_logout(
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
    locale = request_locale(request, params.get("ui_locales"))

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
        return after_logout(request, frontchannel, redirect_uri, locale)

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
