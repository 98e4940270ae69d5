"""One authorization request as the endpoint goes through it, and the facts it gathers for
``policies/authorization.py``: the session's sign-in, then the access policy and consents."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

from authlib.oauth2.rfc6749 import OAuth2Error
from authlib.oauth2.rfc6749.util import scope_to_list
from joserfc.errors import JoseError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway.endpoints.responses import redirect_error
from gateway.endpoints.transaction import Transaction, save_transaction
from gateway.identity.access import ADMIN_SCOPES, Verdict, privileged
from gateway.identity.claims import scopes_for_claims, subject_for
from gateway.identity.sessions import SsoSession
from gateway.oauth.models import MAX_AGE, EndUser
from gateway.oauth.tokens_in import verify_own_jwt
from gateway.pages.access_denied import requested_level
from gateway.server.services import Services
from policies.access import Decision
from policies.authorization import (
    OFFLINE_ACCESS,
    AuthorizationFacts,
    scopes_to_ask,
    sign_in_stands,
)
from store.records import AuditEvent


@dataclass
class Visit:
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
    tx_extra: dict[str, Any] | None = None  # what a new transaction starts with

    async def transaction(self) -> tuple[str, str, bool]:
        """The transaction's id (saved now if new), and the browser id and whether it is new."""
        services: Services = self.request.app.state.services
        browser, new_browser = services.csrf.browser_id(self.request)
        if self.tx is None:
            self.tx = Transaction(
                params=self.params, browser=browser, extra=dict(self.tx_extra or {})
            )
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


async def sign_in_facts(visit: Visit) -> tuple[AuthorizationFacts, str | None]:
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


async def access_facts(visit: Visit, facts: AuthorizationFacts) -> AuthorizationFacts:
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
        # What the code is issued for (the grant's scope), and what the audit entry names.
        payload["scope"] = visit.oauth_request.scope = " ".join(requested)
    act_for = await admission(visit, requested_level(visit.params.get("acr_values")))
    # What the person consents to: the scopes, and the scopes of claims asked for by name.
    scopes = frozenset(requested) | scopes_for_claims(claims_request_of(visit.oauth_request))
    consented: frozenset[str] = frozenset()
    if client.require_consent and "consent" not in facts.prompts and not privileged(scopes):
        consented = frozenset(
            await services.consents.granted(end_user.account.id, client.client_id)
        )
    assert visit.verdict is not None
    return replace(
        facts,
        access=visit.verdict.decision,
        act_for=act_for,
        scopes=scopes,
        consent=tx.consent if tx is not None else None,
        consent_shown=frozenset(tx.extra.get("scopes", [])) if tx is not None else frozenset(),
        require_consent=client.require_consent,
        consented=consented,
    )


ActFor = Literal["none", "choose", "refused"]


async def admission(visit: Visit, requested_acr: str | None) -> ActFor:
    """Ask the app's access policy about the signed-in person (``visit.verdict``, with what a
    step-up this visit already asked for), and whom they act for: nobody, to be chosen, or a
    choice that is no longer theirs to make. Every protocol's sign-in goes through here."""
    services: Services = visit.request.app.state.services
    end_user, client, tx, session = visit.end_user, visit.client, visit.tx, visit.session
    assert end_user is not None and session is not None
    earlier = (tx.extra.get("step_up") or {}) if tx is not None else {}
    verdict = await services.access.decide(
        end_user.account,
        client.client_id,
        session.acr,
        session.amr,
        requested_acr,
        earlier_step_up=earlier.get("check"),
        signed_in_again=tx is not None
        and (tx.signed_in_sid == session.sid or bool(tx.extra.get("otp_done"))),
        unfamiliar=session.unfamiliar,
        new_place_city_wide=services.settings.new_place_second_factor,
    )
    visit.verdict = verdict
    if verdict.decision.outcome != "allow" or not verdict.document.act_for:
        return "none"
    chosen = tx.extra.get("act_for") if tx is not None else None
    if chosen is None and await services.delegations.of_member(end_user.account.id):
        return "choose"
    if chosen:
        end_user.act_for = chosen
        if not await services.delegations.may_act_for(end_user.account.id, chosen):
            return "refused"
    return "none"


def claims_request_of(oauth_request: Any) -> Any:
    return getattr(oauth_request, "claims_request", None)


async def record_denial(visit: Visit, decision: Decision, protocol: str | None = None) -> None:
    """``authorize.denied``: the app's access policy refused the person (any protocol)."""
    assert visit.end_user is not None
    details = {"reason": decision.reason} | ({"protocol": protocol} if protocol else {})
    services: Services = visit.request.app.state.services
    await services.audit.record(
        AuditEvent(
            "authorize.denied",
            outcome="denied",
            actor=visit.end_user.account.id,
            client_id=visit.client.client_id,
            check=decision.check,
            details=details,
        ),
        request=visit.request,
    )
