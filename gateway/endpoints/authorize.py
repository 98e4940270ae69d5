"""The authorization endpoint (RFC 6749 §4.1, OIDC Core §3.1.2) and its resumption after the
sign-in and consent pages.

An invalid client or redirect URI gets an error page and never a redirect; every other error
goes back to the client's redirect URI with ``state`` and ``iss`` (RFC 9207).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
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
from gateway.identity.access import ADMIN_SCOPES, Verdict, app_claims, privileged
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
from policies.authorization import (
    OFFLINE_ACCESS,
    AuthorizationFacts,
    Step,
    next_step,
    scopes_to_ask,
    sign_in_stands,
)
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


@dataclass
class _Visit:
    """What the endpoint knows of one authorization request as it goes."""

    request: Request
    params: dict[str, str]
    tx: Transaction | None
    tx_id: str | None
    client: Any = None
    session: SsoSession | None = None
    end_user: EndUser | None = None
    grant: Any = None
    oauth_request: Any = None
    verdict: Verdict | None = None

    async def transaction(self) -> tuple[str, str, bool]:
        """The transaction's id (saved now if new), and the browser id and whether it is new."""
        services: Services = self.request.app.state.services
        browser, new_browser = services.csrf.browser_id(self.request)
        if self.tx is None:
            self.tx = Transaction(params=self.params, browser=browser)
            self.tx_id = await save_transaction(services, self.tx)
        return self.tx_id or "", browser, new_browser

    async def page(self, where: str) -> Response:
        """A redirect to a page of this authorization (sign-in, step-up, act-for, consent)."""
        tx_id, browser, new_browser = await self.transaction()
        response = RedirectResponse(f"{where}?tx={tx_id}", status_code=303)
        if new_browser:
            self.request.app.state.services.csrf.set_cookie(response, browser)
        return response

    def error(self, error: OAuth2Error) -> Response:
        error.redirect_uri = self.grant.redirect_uri
        return redirect_error(self.request, error, self.params)


async def _sign_in_facts(visit: _Visit) -> tuple[AuthorizationFacts, str | None]:
    """The facts of the session's sign-in, and the subject an id_token_hint names."""
    services: Services = visit.request.app.state.services
    session = await services.sessions.from_cookie(
        visit.request.cookies.get(services.sessions.cookie_name)
    )
    account = await services.accounts.current(session.account_id) if session else None
    if account is None or account.disabled:
        session = None
    hint_subject, hint_invalid = None, False
    if visit.params.get("id_token_hint"):
        try:
            hint = verify_own_jwt(services, visit.params["id_token_hint"], allow_expired=True)
            hint_subject = str(hint["sub"])
        except (JoseError, KeyError):
            hint_invalid = True
    max_age = visit.params.get("max_age")
    tx = visit.tx
    facts = AuthorizationFacts(
        prompts=frozenset((visit.params.get("prompt") or "").split()),
        signed_in=session is not None,
        signed_in_here=session is not None and tx is not None and tx.signed_in_sid == session.sid,
        auth_age=services.clock.now() - session.auth_time if session else 0.0,
        max_age=int(max_age) if max_age is not None and MAX_AGE.fullmatch(max_age) else None,
        hint_invalid=hint_invalid,
    )
    visit.session = session
    if session is not None and visit.client is not None and sign_in_stands(facts):
        visit.end_user = EndUser(
            account=account,
            subject=subject_for(visit.client, account.id, services.pairwise_key),
            auth_time=session.auth_time,
            amr=session.amr,
            acr=session.acr,
            sid=session.sid,
        )
    return facts, hint_subject


def _invalid(request: Request, params: dict[str, str], client: Any, error: Exception) -> Response:
    """An invalid request that cannot go back to the client, or goes back as an error."""
    if isinstance(error, OAuth2Error) and error.redirect_uri:
        return redirect_error(request, error, params)
    if not isinstance(error, OAuth2Error):
        # Authlib refuses to build an error whose text would hold characters outside
        # RFC 6749's set, e.g. an odd redirect_uri quoted in it: nothing is trusted then.
        return error_page(request, params, "error_invalid_client")
    description = error.description or error.error
    if client is None or error.error == "invalid_client" or "edirect" in description:
        return error_page(request, params, "error_invalid_client")
    return error_page(request, params, "error_invalid_request", description)


async def authorize(
    request: Request, params: dict[str, str], tx: Transaction | None, tx_id: str | None
) -> Response:
    services: Services = request.app.state.services
    visit = _Visit(request, params, tx, tx_id)
    context = GrantContext()
    client_id = params.get("client_id")
    visit.client = await services.clients.get(client_id) if client_id else None
    if client_id:
        context.clients[client_id] = visit.client
    facts, hint_subject = await _sign_in_facts(visit)
    visit.oauth_request = FormRequest(
        "GET", request.app.state.authorize_url, {}, request.headers, params
    )
    token = grant_context.set(context)
    try:
        try:
            visit.grant = request.app.state.oauth.get_consent_grant(
                request=visit.oauth_request, end_user=visit.end_user
            )
        except (OAuth2Error, ValueError) as error:
            return _invalid(request, params, visit.client, error)
        claims_request = getattr(visit.oauth_request, "claims_request", None) or {}
        wanted = (claims_request.get("id_token", {}).get("sub") or {}).get("value")
        subject = visit.end_user.subject if visit.end_user else None
        # Somebody else asked for by id_token_hint or a claims request naming the sub
        # (OIDC Core §5.5.1).
        someone_else = subject is not None and (
            (hint_subject is not None and hint_subject != subject)
            or (wanted is not None and wanted != subject)
        )
        facts = replace(facts, someone_else=someone_else)
        step = next_step(facts)
        if step.outcome == "access":
            facts = await _access_facts(visit, facts)
            step = next_step(facts)
        issued = await _take(visit, step, facts)
    finally:
        grant_context.reset(token)
    if not isinstance(issued, _Issued):
        return issued
    for write in context.writes:
        await write()
    return await _deliver_code(visit, issued.response)


@dataclass
class _Issued:
    response: Any  # Authlib's response with the code


async def _access_facts(visit: _Visit, facts: AuthorizationFacts) -> AuthorizationFacts:
    """The facts once the sign-in stands: the scopes to ask for, the access policy's decision,
    whom the person acts for, and the consents."""
    services: Services = visit.request.app.state.services
    end_user, client, tx = visit.end_user, visit.client, visit.tx
    assert end_user is not None and visit.session is not None
    payload = visit.oauth_request.payload.data
    requested = scope_to_list(visit.oauth_request.scope) or []
    if OFFLINE_ACCESS in requested or any(scope in ADMIN_SCOPES for scope in requested):
        held: dict[str, list[str]] = {}
        if any(scope in ADMIN_SCOPES for scope in requested):
            held = await services.access.admin_scopes(end_user.account.id)
        requested = scopes_to_ask(requested, facts.prompts, held)
        # In the request itself: Authlib validates it again when it issues the code.
        payload["scope"] = " ".join(requested)
    earlier = (tx.extra.get("step_up") or {}) if tx is not None else {}
    session = visit.session
    verdict = await services.access.decide(
        end_user.account,
        client.client_id,
        session.acr,
        session.amr,
        requested_level(visit.params.get("acr_values")),
        earlier_step_up=earlier.get("check"),
        signed_in_again=tx is not None
        and (tx.signed_in_sid == session.sid or bool(tx.extra.get("otp_done"))),
    )
    visit.verdict = verdict
    act_for = "none"
    if verdict.decision.outcome == "allow" and verdict.document.act_for:
        chosen = tx.extra.get("act_for") if tx is not None else None
        if chosen is None and await services.delegations.of_member(end_user.account.id):
            act_for = "choose"
        elif chosen:
            end_user.act_for = chosen
            if not await services.delegations.may_act_for(end_user.account.id, chosen):
                act_for = "refused"
    # What the person consents to: the scopes, and the scopes of claims asked for by name.
    scopes = frozenset(requested) | scopes_for_claims(claims_request_of(visit.oauth_request))
    consented: frozenset[str] = frozenset()
    if client.require_consent and "consent" not in facts.prompts and not privileged(scopes):
        consented = frozenset(
            await services.consents.granted(end_user.account.id, client.client_id)
        )
    return replace(
        facts,
        access=verdict.decision,
        act_for=act_for,
        scopes=scopes,
        consent=tx.consent if tx is not None else None,
        consent_shown=frozenset(tx.extra.get("scopes", [])) if tx is not None else frozenset(),
        require_consent=client.require_consent,
        consented=consented,
    )


def claims_request_of(oauth_request: Any) -> Any:
    return getattr(oauth_request, "claims_request", None)


async def _take(visit: _Visit, step: Step, facts: AuthorizationFacts) -> Response | _Issued:
    """Do what ``step`` says."""
    match step.outcome:
        case "invalid_request":
            return visit.error(
                InvalidRequestError("The id_token_hint is not a valid ID token of this issuer.")
            )
        case "login_required":
            return visit.error(LoginRequiredError())
        case "sign_in":
            return await visit.page("/login")
        case "step_up":
            return await _step_up(visit, step)
        case "act_for":
            return await visit.page("/act-for")
        case "denied":
            return await _denied(visit, step)
        case "access_denied":
            return visit.error(AccessDeniedError())
        case "consent_required":
            return visit.error(ConsentRequiredError())
        case "consent":
            await visit.transaction()
            assert visit.tx is not None
            visit.tx.extra["scopes"] = sorted(facts.scopes)
            visit.tx.extra["privileged"] = sorted(privileged(facts.scopes))
            services: Services = visit.request.app.state.services
            await update_transaction(services, visit.tx_id or "", visit.tx)
            return await visit.page("/consent")
    return await _issue(visit)


async def _step_up(visit: _Visit, step: Step) -> Response:
    services: Services = visit.request.app.state.services
    decision = step.decision
    assert decision is not None and visit.session is not None and visit.end_user is not None
    tx_id, _, _ = await visit.transaction()
    assert visit.tx is not None
    visit.tx.extra["step_up"] = {
        "acr": decision.acr,
        "check": decision.check,
        "methods": sorted(visit.verdict.stronger_methods),  # type: ignore[union-attr]
    }
    await update_transaction(services, tx_id, visit.tx)
    await services.audit.record(
        AuditEvent(
            "authorize.step_up",
            actor=visit.end_user.account.id,
            client_id=visit.client.client_id,
            check=decision.check,
            details={"from": visit.session.acr, "to": decision.acr},
        ),
        request=visit.request,
    )
    # A missing second factor is asked for on its own page; a level, by signing in again.
    return await visit.page(OTP_PATH if decision.check == "mfa" else "/login")


async def _denied(visit: _Visit, step: Step) -> Response:
    services: Services = visit.request.app.state.services
    decision = step.decision
    assert decision is not None and visit.end_user is not None
    request, params, grant = visit.request, visit.params, visit.grant
    await services.audit.record(
        AuditEvent(
            "authorize.denied",
            outcome="denied",
            actor=visit.end_user.account.id,
            client_id=visit.client.client_id,
            check=decision.check,
            details={"reason": decision.reason},
        ),
        request=request,
    )
    error = AccessDeniedError(description=decision.reason, redirect_uri=grant.redirect_uri)
    if "none" in (params.get("prompt") or "").split():
        return redirect_error(request, error, params)  # no page may be shown (OIDC §3.1.2.1)
    fields = error_fields(services, error, params)
    return denied_page(
        request,
        visit.client,
        params,
        decision,
        grant.redirect_uri,
        fields,
        with_params(grant.redirect_uri, fields),
    )


async def _issue(visit: _Visit) -> _Issued:
    services: Services = visit.request.app.state.services
    end_user, client, session = visit.end_user, visit.client, visit.session
    assert end_user is not None and session is not None
    verdict = visit.verdict
    assert verdict is not None
    end_user.claims = await app_claims(
        services, end_user.account, client, verdict.org, verdict.document, end_user.act_for
    )
    if client.subject_type == "pairwise":
        await services.subjects.remember(sector_of(client), end_user.subject, end_user.account.id)
    # Before the code exists: a logout from now on will notify this client.
    await services.sessions.add_client(session, client.client_id)
    issued = visit.request.app.state.oauth.create_authorization_response(
        visit.oauth_request, grant_user=end_user, grant=visit.grant
    )
    return _Issued(issued)


async def _deliver_code(visit: _Visit, issued: Any) -> Response:
    services: Services = visit.request.app.state.services
    end_user, params, grant = visit.end_user, visit.params, visit.grant
    assert end_user is not None
    if visit.tx_id:
        await services.expiring.delete(kv_keys.transaction(visit.tx_id))
    # Every visit of a signed-in person to an app: batched like issued tokens (in the local
    # spool before the answer), not a statement of its own.
    services.audit.queue(
        AuditEvent(
            "authorize.granted",
            actor=end_user.account.id,
            client_id=visit.client.client_id,
            details={
                "scope": visit.oauth_request.payload.data.get("scope"),
                "act_for": end_user.act_for,
            },
        ),
        request=visit.request,
    )
    location = issued.headers.get("location", "")
    if params.get("response_mode") != "form_post":
        return RedirectResponse(location, status_code=303)
    # form_post: the same parameters, posted to the redirect URI as registered.
    original = parse_qsl(urlsplit(grant.redirect_uri).query, keep_blank_values=True)
    added = parse_qsl(urlsplit(location).query, keep_blank_values=True)[len(original) :]
    return deliver(visit.request, grant.redirect_uri, dict(added), "form_post")
