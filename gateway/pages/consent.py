"""The consent page: what an app asks for, allowed or denied inside one authorization."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway.endpoints.authorize import (
    RESUME_PATH,
    error_page,
    load_transaction,
    submitted_form,
    update_transaction,
)
from gateway.pages.render import messages, page
from gateway.pages.scopes import labels as scope_labels
from gateway.pages.sign_in import client_view, locale_of
from gateway.server.services import Services
from store.records import AuditEvent


async def consent_page(request: Request) -> Response:
    services: Services = request.app.state.services
    tx_id = request.query_params.get("tx", "")
    tx = await load_transaction(services, request, tx_id)
    if tx is None:
        return error_page(request, {}, "expired")
    locale = locale_of(request, tx)
    t = messages(locale)
    labels = scope_labels(t, tx.extra.get("scopes", []))
    client_name, action_sources = await client_view(services, tx)
    return page(
        request,
        "consent.html",
        locale,
        {
            "tx": tx_id,
            "csrf_token": services.csrf.token(tx.browser, f"consent:{tx_id}"),
            "client_name": client_name,
            "scope_labels": labels,
            "privileged": bool(tx.extra.get("privileged")),
            "action": "/consent",
        },
        form_action=action_sources,
    )


async def consent_submit(request: Request) -> Response:
    services: Services = request.app.state.services
    submitted = await submitted_form(request, "consent")
    if submitted is None:
        return error_page(request, {}, "expired")
    form, tx_id, tx = submitted
    session = await services.sessions.from_cookie(
        request.cookies.get(services.sessions.cookie_name)
    )
    if session is None:
        return error_page(request, {}, "expired")
    decision = "allow" if form.get("decision") == "allow" else "deny"
    if decision == "allow":
        await services.consents.grant(
            session.account_id,
            tx.params.get("client_id", ""),
            set(tx.extra.get("scopes", [])),
            services.clock.now(),
        )
    await services.audit.record(
        AuditEvent(
            f"consent.{decision}",
            outcome="success" if decision == "allow" else "denied",
            actor=session.account_id,
            client_id=tx.params.get("client_id"),
            details={"scopes": sorted(tx.extra.get("scopes", []))},
        ),
        request=request,
    )
    tx.consent = decision
    await update_transaction(services, tx_id, tx)
    return RedirectResponse(f"{RESUME_PATH}?tx={tx_id}", status_code=303)
