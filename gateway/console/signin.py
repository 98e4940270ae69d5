"""Signing in to the console through the gateway itself: ``/admin/login`` sends the browser to
the authorization endpoint (code + PKCE, state and nonce kept server-side, bound to the browser),
``/admin/callback`` exchanges the code and starts the console session, ``/admin/logout`` ends
it, revokes its tokens and ends the SSO session through RP-initiated logout."""

from __future__ import annotations

from urllib.parse import unquote, urlencode

import orjson
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway.admin.auth import admin_for_token
from gateway.console import oidc
from gateway.console import session as console_session
from gateway.console.context import Console, view
from gateway.console.render import locale_of, render
from gateway.console.session import ConsoleSession
from gateway.endpoints.discovery import END_SESSION_PATH
from gateway.identity.console_client import CONSOLE_CLIENT_ID, SIGNED_OUT_PATH
from gateway.server.responses import Unauthenticated
from gateway.server.services import Services
from store import kv_keys
from store.records import AuditEvent

HOME = "/admin/"
FLOW_TTL = 600  # seconds a sign-in may take at the authorization endpoint


def local_target(wanted: str | None) -> str:
    """Only a console page is a place to return to (never another site: ``//host``, nor
    another page of this one: ``/admin/../``, which browsers resolve, ``%2e%2e`` included)."""
    if (
        wanted
        and wanted.startswith("/admin/")
        and "//" not in wanted
        and "\\" not in wanted
        and not any(ord(ch) < 0x20 for ch in wanted)
        and not {".", ".."} & set(unquote(wanted.partition("?")[0]).split("/"))
    ):
        return wanted
    return HOME


async def sign_in(request: Request) -> Response:
    services: Services = request.app.state.services
    if await console_session.current(services, request) is not None:
        return RedirectResponse(local_target(request.query_params.get("next")), status_code=303)
    state, verifier, nonce = oidc.new_secrets()
    browser, new = services.csrf.browser_id(request)
    flow = {
        "verifier": verifier,
        "nonce": nonce,
        "browser": browser,
        "next": local_target(request.query_params.get("next")),
    }
    await services.expiring.put(kv_keys.console_sign_in(state), orjson.dumps(flow), FLOW_TTL)
    url = oidc.authorization_url(request, state, verifier, nonce, locale_of(request))
    response = RedirectResponse(url, status_code=303)
    if new:
        services.csrf.set_cookie(response, browser)
    return response


def _failed(request: Request, reason: str, status: int = 400) -> Response:
    return render(request, "console_signed_out.html", {"failure": reason}, status)


async def callback(request: Request) -> Response:
    services: Services = request.app.state.services
    params = request.query_params
    raw = await services.expiring.take(kv_keys.console_sign_in(params.get("state", "")[:128]))
    flow = orjson.loads(raw) if raw else None
    browser = request.cookies.get(services.csrf.cookie_name, "")
    if flow is None or not browser or flow["browser"] != browser:
        return _failed(request, "expired")
    if params.get("error"):
        # The issuer refused: the admin policy (a second factor the account lacks), or a "no".
        return _failed(request, "refused", 403)
    try:
        tokens = await oidc.exchange(
            request, params.get("code", ""), flow["verifier"], flow["nonce"]
        )
        admin = await admin_for_token(services, tokens.access_token)
    except (oidc.SignInFailed, Unauthenticated):
        return _failed(request, "expired")
    if not admin.held:
        if tokens.refresh_token:
            await oidc.revoke(request, tokens.refresh_token)
        return _failed(request, "not_admin", 403)
    session = ConsoleSession(
        account_id=admin.account_id,
        access_token=tokens.access_token,
        access_expires_at=tokens.access_expires_at,
        refresh_token=tokens.refresh_token,
        id_token=tokens.id_token,
    )
    response = RedirectResponse(flow["next"], status_code=303)
    await console_session.start(services, response, session)
    await services.audit.record(
        AuditEvent("console.signed_in", actor=admin.account_id, client_id=CONSOLE_CLIENT_ID),
        request=request,
    )
    return response


@view("sign_out")
async def sign_out(console: Console) -> Response:
    services, request = console.services, console.request
    if console.session.refresh_token:
        await oidc.revoke(request, console.session.refresh_token)
    query = urlencode(
        {
            "id_token_hint": console.session.id_token,
            "client_id": CONSOLE_CLIENT_ID,
            "post_logout_redirect_uri": services.settings.issuer + SIGNED_OUT_PATH,
            "ui_locales": locale_of(request),
        }
    )
    response = RedirectResponse(f"{END_SESSION_PATH}?{query}", status_code=303)
    await console_session.end(services, console.session, response)
    await services.audit.record(
        AuditEvent(
            "console.signed_out", actor=console.admin.account_id, client_id=CONSOLE_CLIENT_ID
        ),
        request=request,
    )
    return response


async def signed_out(request: Request) -> Response:
    return render(request, "console_signed_out.html", {"failure": None})
