"""The ``act_for`` choice: a person who acts for enterprises picks, at sign-in to an app that
allows it, whether they act as themselves or for one of those enterprises this time."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway.endpoints.authorize import (
    RESUME_PATH,
    error_page,
    load_transaction,
    signed_in_step,
    update_transaction,
)
from gateway.identity.delegations import POSITIONS
from gateway.pages.render import form_action, page, request_locale
from gateway.server.services import Services

ACT_FOR_PATH = "/act-for"


async def _choices(services: Services, account_id: str) -> list[tuple[str, str, str]]:
    """(enterprise id, name, position) for each live delegation, strongest position first."""
    live = await services.delegations.of_member(account_id)
    live.sort(key=lambda d: POSITIONS.index(d.position))  # the strongest of each comes first
    seen: dict[str, tuple[str, str, str]] = {}
    for delegation in live:
        if delegation.organisation_id in seen:
            continue
        enterprise = await services.accounts.get(delegation.organisation_id)
        if enterprise is not None and not enterprise.disabled:
            name = enterprise.name or enterprise.username
            seen[enterprise.id] = (enterprise.id, name, delegation.position)
    return list(seen.values())


async def act_for_page(request: Request) -> Response:
    services: Services = request.app.state.services
    tx_id = request.query_params.get("tx", "")
    tx = await load_transaction(services, request, tx_id)
    session = await services.sessions.from_cookie(
        request.cookies.get(services.sessions.cookie_name)
    )
    if tx is None or session is None:
        return error_page(request, {}, "expired")
    client = await services.clients.get(tx.params.get("client_id", ""))
    locale = request_locale(request, tx.params.get("ui_locales"))
    return page(
        request,
        "act_for.html",
        locale,
        {
            "tx": tx_id,
            "csrf_token": services.csrf.token(tx.browser, f"act-for:{tx_id}"),
            "client_name": client.name if client else "",
            "choices": await _choices(services, session.account_id),
            "action": ACT_FOR_PATH,
        },
        form_action=form_action(*((*client.redirect_uris, *client.service_urls) if client else ())),
    )


async def act_for_submit(request: Request) -> Response:
    services: Services = request.app.state.services
    step = await signed_in_step(request, "act-for")
    if step is None:
        return error_page(request, {}, "expired")
    tx, tx_id, session = step.tx, step.tx_id, step.session
    chosen = step.form.get("act_for", "")
    allowed = {choice[0] for choice in await _choices(services, session.account_id)}
    if chosen and chosen not in allowed:
        return error_page(request, tx.params, "expired")
    tx.extra["act_for"] = chosen
    await update_transaction(services, tx_id, tx)
    return RedirectResponse(f"{RESUME_PATH}?tx={tx_id}", status_code=303)
