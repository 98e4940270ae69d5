"""The sign-in page: plain HTML forms, CSRF-protected, zh-CN by default.

A wrong password and an unknown username get the same words after the same work, and failures
are counted per account name and per address (``policies/lockout.py``)."""

from __future__ import annotations

import asyncio
import math

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway.endpoints.authorize import (
    RESUME_PATH,
    Transaction,
    error_page,
    load_transaction,
    posted_form,
    update_transaction,
)
from gateway.endpoints.end_session import end_sso_session
from gateway.endpoints.transaction import transaction_entry
from gateway.pages.federated_login import (
    LOCAL,
    SignIn,
    complete_pending_link,
    password_sign_in,
    read_holder_ahead,
)
from gateway.pages.lockout import Attempt
from gateway.pages.passkey_button import passkey_offer
from gateway.pages.render import form_action, messages, page, request_locale
from gateway.pages.sign_in_place import Place
from gateway.server.services import Services
from store.errors import Unavailable
from store.records import AuditEvent


def locale_of(request: Request, tx: Transaction | None) -> str:
    wanted = request.query_params.get("ui_locales") or (tx.params.get("ui_locales") if tx else None)
    return request_locale(request, wanted)


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def client_view(services: Services, tx: Transaction) -> tuple[str, str]:
    """The client's name, and the form-action that lets the form's redirect chain reach it."""
    client = await services.clients.get(tx.params.get("client_id", ""))
    if client is None:
        return "", form_action()
    return client.name, form_action(*client.redirect_uris, *client.service_urls)


async def login_form(
    request: Request,
    tx_id: str,
    tx: Transaction,
    *,
    error: str | None = None,
    username: str = "",
    status: int = 200,
    headers: dict[str, str] | None = None,
    provider: str | None = None,
) -> Response:
    services: Services = request.app.state.services
    locale = locale_of(request, tx)
    client_name, action_sources = await client_view(services, tx)
    every, unavailable = await asyncio.gather(
        services.login_systems.all(), services.login_systems.unavailable()
    )
    down = {u.id for u in unavailable}
    every = [d for d in every if d.id not in down]  # shown apart, below the usable ones
    step_up = tx.extra.get("step_up")
    notice = None
    if step_up:
        # Only the ways of signing in that reach the level the app needs.
        every = [d for d in every if d.id in step_up["methods"]]
        unavailable = [u for u in unavailable if u.id in step_up["methods"]]
        notice = messages(locale).step_up_notice.format(client=client_name, level=step_up["acr"])
    systems = [d for d in every if d.takes_passwords]
    redirects = [d for d in every if not d.takes_passwords]
    local = not step_up
    chosen = provider or tx.params.get("idp_hint") or (LOCAL if local else "")
    if not local and systems and chosen not in {d.id for d in systems}:
        chosen = systems[0].id
    passkey = await passkey_offer(request, tx_id, tx)
    response = page(
        request,
        "login.html",
        locale,
        {
            "tx": tx_id,
            "csrf_token": services.csrf.token(tx.browser, f"login:{tx_id}"),
            "client_name": client_name,
            "action": "/login",
            "page_path": "/login",  # the language link of a form shown by another path too
            "error": error,
            "username": username or tx.params.get("login_hint", ""),
            "departments": [(d.id, d.name) for d in systems],
            "redirects": [
                (
                    f"/login/start/{d.id}?tx={tx_id}",
                    messages(locale).sign_in_at.format(department=d.name),
                )
                for d in redirects
            ],
            "unavailable": [
                messages(locale).unavailable_label.format(department=u.name) for u in unavailable
            ],
            "chosen": chosen,
            "notice": notice,
            "local": local,
            "password_form": local or bool(systems),
            "passkey": passkey,
            "scan_tab": bool(services.settings.mobile_app_clients),
        },
        status=status,
        form_action=action_sources,
        script_nonce=passkey["nonce"] if passkey else None,
    )
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


async def login_page(request: Request) -> Response:
    services: Services = request.app.state.services
    tx_id = request.query_params.get("tx", "")
    tx = await load_transaction(services, request, tx_id)
    if tx is None:
        return error_page(request, {}, "expired")
    hinted = await services.login_systems.get(tx.params.get("idp_hint", ""))
    if hinted is not None and not hinted.takes_passwords:
        # idp_hint names a department with its own login page: go straight there.
        return RedirectResponse(f"/login/start/{hinted.id}?tx={tx_id}", status_code=303)
    return await login_form(request, tx_id, tx)


async def login_submit(request: Request) -> Response:
    services: Services = request.app.state.services
    posted = await posted_form(request, "login")
    if posted is None:
        return error_page(request, {}, "expired")
    form, tx_id = posted
    username, password = form.get("username", ""), form.get("password", "")
    provider_id = form.get("provider") or LOCAL
    attempt = Attempt(request, provider_id, username)

    # Count the attempt before checking the password (gateway/pages/lockout.py). The transaction,
    # the counters and the account are independent reads: they go out together, one round
    # trip to the store and one to the database.
    holder = read_holder_ahead(services, provider_id, username, password)
    try:
        tx, *_ = await asyncio.gather(
            load_transaction(services, request, tx_id),
            attempt.count(),
            *([holder] if holder is not None else []),
        )
    except Unavailable:
        # The database is away (503): no password was tried, so an outage locks nobody out.
        await attempt.take_back()
        raise
    if tx is None:
        # No password was tried: the attempt is taken back.
        await attempt.take_back()
        return error_page(request, {}, "expired")
    t = messages(locale_of(request, tx))
    decision = await attempt.decide()
    if decision.locked:
        seconds = await attempt.retry_after(decision)
        await services.audit.record(
            AuditEvent(
                "login.locked",
                outcome="failure",
                client_id=tx.params.get("client_id"),
                details={
                    "username": username,
                    "provider": provider_id,
                    "by": decision.reason,
                    **attempt.details,
                },
            ),
            request=request,
        )
        return await login_form(
            request,
            tx_id,
            tx,
            error=t.locked.format(minutes=math.ceil(seconds / 60)),
            username=username,
            status=429,
            headers={"Retry-After": str(seconds)},
        )

    try:
        result = await password_sign_in(services, provider_id, username, password, holder)
    except Unavailable:
        await attempt.take_back()  # no verdict on the password either
        raise
    if result.account is None:
        if result.error != "bad_credentials":  # not the person's fault: do not count it
            await attempt.take_back()
        else:
            await attempt.failed(username, provider_id)
        return await refused(request, tx_id, tx, result, username, provider_id)
    # A success is no failure: uncount it, while the session starts (the same round trip).
    uncount = asyncio.ensure_future(attempt.succeeded())
    try:
        response = await signed_in(request, tx_id, tx, result, ["pwd"])
    finally:
        await uncount
    attempt.remember_device(response)
    return response


async def refused(
    request: Request, tx_id: str, tx: Transaction, result: SignIn, username: str, provider: str
) -> Response:
    """The sign-in page again, saying why (and keeping a link to prove ownership for)."""
    services: Services = request.app.state.services
    await services.audit.record(
        AuditEvent(
            "login.failed",
            outcome="failure",
            client_id=tx.params.get("client_id"),
            check=result.error,
            details={
                "username": username,
                "provider": provider,
                "reason": result.error,
                **({"problem": result.problem} if result.problem else {}),
            },
        ),
        request=request,
    )
    if result.pending_link is not None:
        tx.extra["pending_link"] = result.pending_link
        await update_transaction(services, tx_id, tx)
    t = messages(locale_of(request, tx))
    return await login_form(
        request,
        tx_id,
        tx,
        error=t[result.error or "bad_credentials"].format(**result.detail),
        username=username,
        status=result.status,
        provider=LOCAL if result.pending_link else provider,
    )


async def signed_in(
    request: Request,
    tx_id: str,
    tx: Transaction,
    result: SignIn,
    amr: list[str],
    *,
    queued: bool = False,
) -> Response:
    """A successful sign-in: link what was proven, start or renew the session, go on.
    ``queued``: its audit entry goes with the next batch (spooled before the answer)."""
    services: Services = request.app.state.services
    account = result.account
    assert account is not None
    pending = tx.extra.pop("pending_link", None)
    if pending is not None and result.idp == LOCAL:
        await complete_pending_link(services, pending, account)
    place = Place(request)
    arrival = await place.arrive(account.id)
    cookie, frontchannel = await _start_session(request, tx_id, tx, account.id, amr, result, place)
    # Kept before the answer, once the session is: no sign-in is answered unrecorded, and
    # none is recorded whose session did not start.
    entry = AuditEvent(
        "login.succeeded",
        actor=account.id,
        target=account.id,
        client_id=tx.params.get("client_id"),
        details={
            "provider": result.idp,
            "acr": result.acr,
            "amr": amr,
            "region": arrival.region.as_dict(),
        },
    )
    if queued:
        services.audit.queue(entry, request=request)
    else:
        await services.audit.record(entry, request=request)
    await place.tell(account.id)
    target = tx.return_to or f"{RESUME_PATH}?tx={tx_id}"
    if frontchannel:
        # The previous person's apps must see their logout in this browser before going on.
        response: Response = page(
            request,
            "logged_out.html",
            locale_of(request, tx),
            {"frontchannel_uris": frontchannel, "redirect_uri": target},
        )
    else:
        response = RedirectResponse(target, status_code=303)
    services.sessions.set_cookie(response, cookie)
    place.finish(response)
    return response


async def _start_session(
    request: Request,
    tx_id: str,
    tx: Transaction,
    account_id: str,
    amr: list[str],
    signed_in: SignIn,
    place: Place,
) -> tuple[str, list[str]]:
    """The same person keeps their session (apps know its sid) with a new cookie secret; anyone
    else ends the old one and starts a new one. Returns the cookie and the old session's
    front-channel logout URIs the browser must still load."""
    services: Services = request.app.state.services
    previous = await services.sessions.from_cookie(
        request.cookies.get(services.sessions.cookie_name)
    )
    frontchannel: list[str] = []
    if previous is not None and previous.account_id == account_id:
        tx.signed_in_sid = previous.sid
        if place.arrival is not None:  # where the session stands now
            previous.region = place.arrival.region.as_dict()
            previous.unfamiliar = place.arrival.unfamiliar
        cookie, _ = await asyncio.gather(
            services.sessions.reauthenticate(
                previous, amr, signed_in.acr, signed_in.idp, signed_in.idp_subject
            ),
            update_transaction(services, tx_id, tx),
        )
        if cookie is not None:
            return cookie, frontchannel
        # It ended meanwhile: a new one, which the transaction will name instead.
    elif previous is not None:
        frontchannel = await end_sso_session(request, previous.sid, "another account signed in")
    cookie, session = services.sessions.new(
        account_id,
        amr=amr,
        acr=signed_in.acr,
        user_agent=request.headers.get("user-agent", ""),
        ip=_client_ip(request),
        idp=signed_in.idp,
        idp_subject=signed_in.idp_subject,
        region=place.arrival.region.as_dict() if place.arrival else {},
        unfamiliar=place.arrival.unfamiliar if place.arrival else False,
    )
    tx.signed_in_sid = session.sid
    # With the session, in its round trip: a transaction naming a sid is of no use without the
    # cookie, which only the answer gives.
    await services.sessions.store(session, transaction_entry(tx_id, tx))
    return cookie, frontchannel
