"""The authorization endpoint (RFC 6749 §4.1, OIDC Core §3.1.2) and its resumption after the
sign-in and consent pages.

An invalid client or redirect URI gets an error page and never a redirect; every other error
goes back to the client's redirect URI with ``state`` and ``iss`` (RFC 9207).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from authlib.oauth2.rfc6749 import (
    AccessDeniedError,
    InvalidRequestError,
    OAuth2Error,
    UnauthorizedClientError,
)
from authlib.oidc.core.errors import ConsentRequiredError, LoginRequiredError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway.endpoints.pushed import PushedRequestError, pushed_params
from gateway.endpoints.responses import (
    deliver,
    error_fields,
    error_page,
    redirect_error,
    with_params,
)
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
from gateway.endpoints.visit import Visit, access_facts, record_denial, sign_in_facts
from gateway.identity.access import app_claims, privileged
from gateway.identity.claims import sector_of
from gateway.oauth.models import (
    FormRequest,
    GrantContext,
    grant_context,
)
from gateway.pages.access_denied import denied_page
from gateway.server.forms import FormError, parse_params, read_form
from gateway.server.services import Services
from policies.app_lifecycle import in_service
from policies.authorization import (
    AuthorizationFacts,
    Step,
    next_step,
)
from policies.real_name import raisable
from store import kv_keys
from store.records import AuditEvent

AUTHORIZE_PATH = "/oauth/authorize"
RESUME_PATH = "/oauth/authorize/resume"
OTP_PATH = "/login/otp"
REAL_NAME_PATH = "/account/real-name"  # where a person raises their own level


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
    try:
        params = await pushed_params(services, params)
    except PushedRequestError as error:
        return error_page(request, params, "error_invalid_request", str(error))
    return await authorize(request, params, None, None)


async def resume_endpoint(request: Request) -> Response:
    services: Services = request.app.state.services
    tx_id = request.query_params.get("tx")
    tx = await load_transaction(services, request, tx_id)
    if tx is None or tx_id is None:
        return error_page(request, {}, "expired")
    resume = tx.extra.get("resume")
    if isinstance(resume, str) and resume.startswith("/") and not resume.startswith("//"):
        # A sign-in another protocol started (CAS) goes on at its own endpoint.
        return RedirectResponse(f"{resume}?tx={tx_id}", status_code=303)
    return await authorize(request, tx.params, tx, tx_id)


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
    visit = Visit(request, params, tx, tx_id)
    context = GrantContext()
    client_id = params.get("client_id")
    visit.client = await services.clients.get(client_id) if client_id else None
    if client_id:
        context.clients[client_id] = visit.client
    if "resource" in params:
        context.resources = await services.resources.snapshot()
    facts, hint_subject = await sign_in_facts(visit)
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
        if visit.client is not None and not in_service(visit.client.state):
            # RFC 6749 §4.1.2.1: to the registered redirect URI just checked.
            return visit.error(UnauthorizedClientError("The app is not in service."))
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
            facts = await access_facts(visit, facts)
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


async def _take(visit: Visit, step: Step, facts: AuthorizationFacts) -> Response | _Issued:
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
            return await step_up(visit, step)
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


async def step_up(visit: Visit, step: Step) -> Response:
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
    return await visit.page(OTP_PATH if decision.check in {"mfa", "new_place"} else "/login")


async def _denied(visit: Visit, step: Step) -> Response:
    services: Services = visit.request.app.state.services
    decision = step.decision
    assert decision is not None and visit.end_user is not None
    request, params, grant = visit.request, visit.params, visit.grant
    none = "none" in (params.get("prompt") or "").split()
    account = visit.end_user.account
    levels = services.real_name.reachable_levels(account)
    if not none and raisable(decision, account.kind, account.assurance, levels):
        # Too low a level the person can raise: the real-name page, then back here.
        await services.audit.record(
            AuditEvent(
                "authorize.step_up",
                actor=account.id,
                client_id=visit.client.client_id,
                check="real_name",
                details={"from": account.assurance, "to": decision.acr},
            ),
            request=request,
        )
        return await visit.page(REAL_NAME_PATH)
    await record_denial(visit, decision)
    error = AccessDeniedError(description=decision.reason, redirect_uri=grant.redirect_uri)
    if none:
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


async def _issue(visit: Visit) -> _Issued:
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


async def _deliver_code(visit: Visit, issued: Any) -> Response:
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
