"""The authorization endpoint (RFC 6749 §4.1, OIDC Core §3.1.2) and its resumption after the
sign-in and consent pages.

An invalid client or redirect URI gets an error page and never a redirect; every other error
goes back to the client's redirect URI with ``state`` and ``iss`` (RFC 9207).
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from authlib.oauth2.rfc6749 import AccessDeniedError, InvalidRequestError, OAuth2Error
from authlib.oauth2.rfc6749.util import scope_to_list
from authlib.oidc.core.errors import ConsentRequiredError, LoginRequiredError
from joserfc.errors import JoseError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway.endpoints.transaction import (  # noqa: F401 (the pages import them from here)
    SignedInStep,
    Transaction,
    load_transaction,
    posted_form,
    save_transaction,
    signed_in_step,
    submitted_form,
    update_transaction,
)
from gateway.identity.access import ADMIN_SCOPES, app_claims, privileged
from gateway.identity.claims import scopes_for_claims, sector_of, subject_for
from gateway.identity.sessions import SsoSession
from gateway.oauth.models import (
    MAX_AGE,
    RESPONSE_MODES,
    EndUser,
    FormRequest,
    GrantContext,
    grant_context,
)
from gateway.oauth.tokens_in import verify_own_jwt
from gateway.pages.access_denied import denied_page, requested_level
from gateway.pages.render import choose_locale, messages, page
from gateway.server.forms import FormError, parse_params, read_form
from gateway.server.responses import oauth_error_fields
from gateway.server.services import Services
from policies.access import Decision
from store import kv_keys
from store.records import AuditEvent

AUTHORIZE_PATH = "/oauth/authorize"
RESUME_PATH = "/oauth/authorize/resume"
OTP_PATH = "/login/otp"


def error_page(
    request: Request, params: dict[str, str], message_key: str, detail: str = ""
) -> Response:
    """A page for the user: used when the client cannot be trusted with a redirect."""
    locale = choose_locale(params.get("ui_locales"), request.headers.get("accept-language"))
    message = messages(locale)[message_key].format(detail=detail)
    return page(request, "error.html", locale, {"message": message, "code": None}, status=400)


def with_params(uri: str, params: dict[str, str]) -> str:
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


def deliver(
    request: Request, redirect_uri: str, params: dict[str, str], response_mode: str | None
) -> Response:
    """Send an authorization response (success or error) by the requested response mode;
    a browser can post a form only to an http(s) address."""
    if response_mode == "form_post" and redirect_uri.startswith(("https://", "http://")):
        nonce = secrets.token_urlsafe(16)
        locale = choose_locale(None, request.headers.get("accept-language"))
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(redirect_uri))
        return page(
            request,
            "form_post.html",
            locale,
            {"action": redirect_uri, "fields": list(params.items()), "script_nonce": nonce},
            form_action=origin,
            script_nonce=nonce,
        )
    return RedirectResponse(with_params(redirect_uri, params), status_code=303)


def error_fields(services: Services, error: OAuth2Error, params: dict[str, str]) -> dict[str, str]:
    body = oauth_error_fields(error.error, error.description)
    if params.get("state"):
        body["state"] = params["state"]
    body["iss"] = services.settings.issuer
    return body


def redirect_error(request: Request, error: OAuth2Error, params: dict[str, str]) -> Response:
    services: Services = request.app.state.services
    body = error_fields(services, error, params)
    mode = params.get("response_mode")
    return deliver(request, error.redirect_uri, body, mode if mode in RESPONSE_MODES else None)


async def authorization_endpoint(request: Request) -> Response:
    services: Services = request.app.state.services
    if request.method == "POST":
        try:
            params = await read_form(request, services.settings.max_form_bytes)
        except FormError as error:
            return error_page(request, {}, "error_invalid_request", error.description)
    else:
        try:
            params = parse_params(request.url.query)
        except FormError as error:
            return error_page(request, {}, "error_invalid_request", error.description)
    return await authorize(request, params, None, None)


async def resume_endpoint(request: Request) -> Response:
    services: Services = request.app.state.services
    tx_id = request.query_params.get("tx")
    tx = await load_transaction(services, request, tx_id)
    if tx is None or tx_id is None:
        return error_page(request, {}, "expired")
    return await authorize(request, tx.params, tx, tx_id)


def _needs_sign_in(
    services: Services, params: dict[str, str], session: SsoSession | None, tx: Transaction | None
) -> bool:
    if session is None:
        return True
    signed_in_here = tx is not None and tx.signed_in_sid == session.sid
    if "login" in (params.get("prompt") or "").split() and not signed_in_here:
        return True
    max_age = params.get("max_age")
    too_old = (
        max_age is not None
        and MAX_AGE.fullmatch(max_age) is not None
        and services.clock.now() - session.auth_time > int(max_age)
    )
    return too_old and not signed_in_here


async def authorize(  # noqa: C901 (its next-step decision is to move to policies/)
    request: Request, params: dict[str, str], tx: Transaction | None, tx_id: str | None
) -> Response:
    services: Services = request.app.state.services
    server = request.app.state.oauth
    context = GrantContext()
    client_id = params.get("client_id")
    client = await services.clients.get(client_id) if client_id else None
    if client_id:
        context.clients[client_id] = client

    session = await services.sessions.from_cookie(
        request.cookies.get(services.sessions.cookie_name)
    )
    account = await services.accounts.current(session.account_id) if session else None
    if account is None or account.disabled:
        session = None
    hint_subject, hint_invalid = None, False
    if params.get("id_token_hint"):
        try:
            hint = verify_own_jwt(services, params["id_token_hint"], allow_expired=True)
            hint_subject = str(hint["sub"])
        except (JoseError, KeyError):
            hint_invalid = True
    must_sign_in = _needs_sign_in(services, params, session, tx)
    end_user = None
    if session is not None and account is not None and client is not None and not must_sign_in:
        end_user = EndUser(
            account=account,
            subject=subject_for(client, account.id, services.pairwise_key),
            auth_time=session.auth_time,
            amr=session.amr,
            acr=session.acr,
            sid=session.sid,
        )

    oauth_request = FormRequest("GET", request.app.state.authorize_url, {}, request.headers, params)
    token = grant_context.set(context)
    try:
        try:
            grant = server.get_consent_grant(request=oauth_request, end_user=end_user)
            if hint_invalid:
                raise InvalidRequestError(
                    "The id_token_hint is not a valid ID token of this issuer.",
                    redirect_uri=grant.redirect_uri,
                )
            prompts = set((params.get("prompt") or "").split())
            claims_request = getattr(oauth_request, "claims_request", None) or {}
            wanted = (claims_request.get("id_token", {}).get("sub") or {}).get("value")
            if end_user is not None and (
                (hint_subject is not None and hint_subject != end_user.subject)
                or (wanted is not None and wanted != end_user.subject)
            ):
                # Somebody else is asked for (id_token_hint, or a claims request naming the
                # sub, OIDC Core §5.5.1): never answer for the person signed in here.
                if "none" in prompts or (tx is not None and tx.signed_in_sid == session.sid):
                    raise LoginRequiredError(redirect_uri=grant.redirect_uri)
                end_user = None
            if end_user is None and "none" in prompts:
                raise LoginRequiredError(redirect_uri=grant.redirect_uri)
        except OAuth2Error as error:
            if error.redirect_uri:
                return redirect_error(request, error, params)
            description = error.description or error.error
            if client is None or error.error == "invalid_client" or "edirect" in description:
                return error_page(request, params, "error_invalid_client")
            return error_page(request, params, "error_invalid_request", description)
        except ValueError:
            # Authlib refuses to build an error whose text would hold characters outside
            # RFC 6749's set, e.g. an odd redirect_uri quoted in it: nothing is trusted then.
            return error_page(request, params, "error_invalid_client")

        browser, new_browser = services.csrf.browser_id(request)
        if end_user is None:
            if tx is None:
                tx = Transaction(params=params, browser=browser)
                tx_id = await save_transaction(services, tx)
            response = RedirectResponse(f"/login?tx={tx_id}", status_code=303)
            if new_browser:
                services.csrf.set_cookie(response, browser)
            return response

        requested = scope_to_list(oauth_request.scope) or []
        if "offline_access" in requested and "consent" not in prompts:
            # OIDC Core §11: offline_access is ignored unless the user is asked for it.
            requested = [scope for scope in requested if scope != "offline_access"]
            # In the request itself: Authlib validates it again when it issues the code.
            oauth_request.payload.data["scope"] = " ".join(requested)
        if any(scope in ADMIN_SCOPES for scope in requested):
            # Admin scopes (asked of an app designated for administration: OAuthClient drops
            # them elsewhere) only for accounts that hold them as roles; others lose them.
            held = await services.access.admin_scopes(end_user.account.id)
            requested = [s for s in requested if s not in ADMIN_SCOPES or s in held]
            oauth_request.payload.data["scope"] = " ".join(requested)

        gate = await _gate(request, params, tx, tx_id, session, end_user, client, grant, prompts)
        if isinstance(gate, Response):
            return gate
        # What the user consents to: the scopes, and the scopes of claims asked for by name.
        scopes = set(requested) | scopes_for_claims(getattr(oauth_request, "claims_request", None))
        decided = tx.consent if tx is not None else None
        shown = set(tx.extra.get("scopes", [])) if tx is not None else set()
        if decided == "allow" and not scopes <= shown:
            decided = None  # more is asked now than the consent page showed
        if decided == "deny":
            return redirect_error(
                request, AccessDeniedError(redirect_uri=grant.redirect_uri), params
            )
        # Privileged scopes are granted on a page in this very authorization: never from an
        # earlier consent (the app may have changed since), never silently.
        elevated = privileged(scopes)
        needs_consent = "consent" in prompts or bool(elevated)
        if client.require_consent and not needs_consent:
            granted = await services.consents.granted(end_user.account.id, client.client_id)
            needs_consent = not scopes <= granted
        if decided != "allow" and needs_consent:
            if "none" in prompts:
                return redirect_error(
                    request, ConsentRequiredError(redirect_uri=grant.redirect_uri), params
                )
            if tx is None:
                tx = Transaction(params=params, browser=browser)
                tx_id = await save_transaction(services, tx)
            tx.extra["scopes"] = sorted(scopes)
            tx.extra["privileged"] = sorted(elevated)
            await update_transaction(services, tx_id, tx)
            response = RedirectResponse(f"/consent?tx={tx_id}", status_code=303)
            if new_browser:
                services.csrf.set_cookie(response, browser)
            return response

        if client.subject_type == "pairwise":
            await services.subjects.remember(
                sector_of(client), end_user.subject, end_user.account.id
            )
        # Before the code exists: a logout from now on will notify this client.
        await services.sessions.add_client(session, client.client_id)  # type: ignore[arg-type]
        issued = server.create_authorization_response(
            oauth_request, grant_user=end_user, grant=grant
        )
    finally:
        grant_context.reset(token)

    for write in context.writes:
        await write()
    if tx_id:
        await services.expiring.delete(kv_keys.transaction(tx_id))
    # Every visit of a signed-in person to an app: batched like issued tokens (in the local
    # spool before the answer), not a statement of its own.
    services.audit.queue(
        AuditEvent(
            "authorize.granted",
            actor=end_user.account.id,
            client_id=client.client_id,
            details={"scope": oauth_request.payload.data.get("scope"), "act_for": end_user.act_for},
        ),
        request=request,
    )
    location = issued.headers.get("location", "")
    if params.get("response_mode") != "form_post":
        return RedirectResponse(location, status_code=303)
    # form_post: the same parameters, posted to the redirect URI as registered.
    original = parse_qsl(urlsplit(grant.redirect_uri).query, keep_blank_values=True)
    added = parse_qsl(urlsplit(location).query, keep_blank_values=True)[len(original) :]
    return deliver(request, grant.redirect_uri, dict(added), "form_post")


async def _gate(
    request: Request,
    params: dict[str, str],
    tx: Transaction | None,
    tx_id: str | None,
    session: SsoSession,
    end_user: EndUser,
    client: Any,
    grant: Any,
    prompts: set[str],
) -> Response | None:
    """The client's access policy for the signed-in person: a denial page, a step-up sign-in
    or the act-for choice as needed; otherwise fills in ``end_user``'s claims for this app."""
    services: Services = request.app.state.services
    account = end_user.account
    verdict = await services.access.decide(
        account,
        client.client_id,
        session.acr,
        session.amr,
        requested_level(params.get("acr_values")),
    )
    decision = verdict.decision
    # The step-up for this very check happened in this transaction and still falls short.
    earlier = (tx.extra.get("step_up") or {}) if tx is not None else {}
    stepped_up_here = (
        tx is not None
        and earlier.get("check") == decision.check
        and (tx.signed_in_sid == session.sid or bool(tx.extra.get("otp_done")))
    )
    if decision.outcome == "step_up" and "none" in prompts:
        return redirect_error(request, LoginRequiredError(redirect_uri=grant.redirect_uri), params)
    if decision.outcome == "step_up" and (stepped_up_here or earlier.get("check") == "acr_values"):
        if decision.check == "acr_values":
            # Asked for by the client, offered once: it is voluntary (OIDC Core §3.1.2.1), so
            # the authorization goes on at the level the session has.
            decision = Decision("allow", "all", "acr_values offered")
        else:
            # Signed in again and still short: no endless loop of sign-in pages.
            reason = "the stronger sign-in did not happen"
            decision = Decision("deny", decision.check, reason, decision.acr)
    if decision.outcome == "step_up":
        browser, new_browser = services.csrf.browser_id(request)
        if tx is None:
            tx = Transaction(params=params, browser=browser)
            tx_id = await save_transaction(services, tx)
        tx.extra["step_up"] = {
            "acr": decision.acr,
            "check": decision.check,
            "methods": sorted(verdict.stronger_methods),
        }
        await update_transaction(services, tx_id, tx)  # type: ignore[arg-type]
        await services.audit.record(
            AuditEvent(
                "authorize.step_up",
                actor=account.id,
                client_id=client.client_id,
                check=decision.check,
                details={"from": session.acr, "to": decision.acr},
            ),
            request=request,
        )
        # A missing second factor is asked for on its own page; a level, by signing in again.
        where = OTP_PATH if decision.check == "mfa" else "/login"
        response = RedirectResponse(f"{where}?tx={tx_id}", status_code=303)
        if new_browser:
            services.csrf.set_cookie(response, browser)
        return response

    act_for: str | None = None
    if decision.outcome == "allow" and verdict.document.act_for:
        choices = await services.delegations.of_member(account.id)
        chosen = tx.extra.get("act_for") if tx is not None else None
        if chosen is None and choices and "none" not in prompts:
            browser, new_browser = services.csrf.browser_id(request)
            if tx is None:
                tx = Transaction(params=params, browser=browser)
                tx_id = await save_transaction(services, tx)
            response = RedirectResponse(f"/act-for?tx={tx_id}", status_code=303)
            if new_browser:
                services.csrf.set_cookie(response, browser)
            return response
        if chosen:
            if not await services.delegations.may_act_for(account.id, chosen):
                decision = Decision("deny", "organisation", "no live delegation from it")
            act_for = chosen

    if decision.outcome == "deny":
        await services.audit.record(
            AuditEvent(
                "authorize.denied",
                outcome="denied",
                actor=account.id,
                client_id=client.client_id,
                check=decision.check,
                details={"reason": decision.reason},
            ),
            request=request,
        )
        error = AccessDeniedError(description=decision.reason, redirect_uri=grant.redirect_uri)
        if "none" in prompts:
            return redirect_error(request, error, params)  # no page may be shown (OIDC §3.1.2.1)
        fields = error_fields(services, error, params)
        return denied_page(
            request,
            client,
            params,
            decision,
            grant.redirect_uri,
            fields,
            with_params(grant.redirect_uri, fields),
        )
    end_user.act_for = act_for
    end_user.claims = await app_claims(
        services, account, client, verdict.org, verdict.document, act_for
    )
    return None
