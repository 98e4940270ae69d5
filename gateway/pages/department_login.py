"""Signing in at a department that sends the browser to its own login page and back (OIDC):
start (state, nonce and PKCE verifier kept server-side, single use) and callback."""

from __future__ import annotations

import json
import secrets

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway.endpoints.authorize import Transaction, error_page, load_transaction
from gateway.identity.metrics import login_system_call
from gateway.pages.federated_login import SignIn, locked_message, resolve_identity, upstream_failed
from gateway.pages.sign_in import refused, signed_in
from gateway.server.forms import FormError, parse_params
from gateway.server.services import Services
from providers.base import (
    AccountLocked,
    AnswerRefused,
    ProviderError,
    ProviderUnavailable,
    RedirectProvider,
)
from store import kv_keys

START_PATH = "/login/start/{provider_id}"
CALLBACK_PATH = "/login/callback/{provider_id}"
STATE_TTL = 600


def callback_url(services: Services, provider_id: str) -> str:
    return services.settings.issuer + CALLBACK_PATH.format(provider_id=provider_id)


async def start(request: Request) -> Response:
    services: Services = request.app.state.services
    provider_id = request.path_params["provider_id"]
    tx_id = request.query_params.get("tx", "")
    tx = await load_transaction(services, request, tx_id)
    if tx is None:
        return error_page(request, {}, "expired")
    login_system = await services.login_systems.get(provider_id)
    if login_system is None:
        return await _unavailable(request, tx_id, tx, provider_id)
    if not isinstance(login_system.provider, RedirectProvider):
        return error_page(request, {}, "expired")
    state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
    record = {"tx": tx_id, "provider": provider_id, "nonce": nonce, "verifier": verifier}
    await services.expiring.put(
        kv_keys.upstream_state(state), json.dumps(record).encode(), STATE_TTL
    )
    try:
        with login_system_call(provider_id):
            url = await login_system.provider.login_url(
                callback_url(services, provider_id), state, nonce, verifier
            )
    except Exception as error:  # discovery failed: this login system only
        down = upstream_failed(services, login_system, error)
        return await refused(request, tx_id, tx, down, "", provider_id)
    services.login_systems.mark_up(provider_id)
    return RedirectResponse(url, status_code=303)


async def _unavailable(request: Request, tx_id: str, tx: Transaction, provider_id: str) -> Response:
    """The sign-in page saying the department cannot be used now; an id that names no
    login_system at all is an expired (or made-up) link."""
    services: Services = request.app.state.services
    broken = await services.login_systems.broken(provider_id)
    if broken is None:
        return error_page(request, {}, "expired")
    result = SignIn(error="upstream_unavailable", detail={"department": broken.name}, status=503)
    return await refused(request, tx_id, tx, result, "", provider_id)


async def callback(request: Request) -> Response:
    services: Services = request.app.state.services
    provider_id = request.path_params["provider_id"]
    try:
        params = parse_params(request.url.query)
    except FormError:
        return error_page(request, {}, "expired")
    raw = await services.expiring.take(kv_keys.upstream_state(params.get("state", "")))
    record = json.loads(raw) if raw else {}
    tx = await load_transaction(services, request, record.get("tx"))
    if tx is None or record.get("provider") != provider_id:
        return error_page(request, {}, "expired")  # unknown, replayed or foreign state
    tx_id = record["tx"]
    # An answer the department posted (a SAML Response) came in at its own endpoint first.
    posted = await services.expiring.take(kv_keys.upstream_answer(params["state"]))
    if posted is not None:
        params = {**params, **json.loads(posted)}
    login_system = await services.login_systems.get(provider_id)
    if login_system is None:
        return await _unavailable(request, tx_id, tx, provider_id)
    if not isinstance(login_system.provider, RedirectProvider):
        return error_page(request, {}, "expired")
    try:
        with login_system_call(provider_id):
            identity = await login_system.provider.callback(
                callback_url(services, provider_id), params, record["nonce"], record["verifier"]
            )
    except AccountLocked as locked:
        result = SignIn(error=locked_message(locked), detail={"department": login_system.name})
        return await refused(request, tx_id, tx, result, "", provider_id)
    except ProviderUnavailable as error:
        down = upstream_failed(services, login_system, error)
        return await refused(request, tx_id, tx, down, "", provider_id)
    except ProviderError as error:
        problem = error.check if isinstance(error, AnswerRefused) else None
        failed = SignIn(
            error="upstream_failed", detail={"department": login_system.name}, problem=problem
        )
        return await refused(request, tx_id, tx, failed, "", provider_id)
    except Exception as error:  # this login system only, never a 500
        down = upstream_failed(services, login_system, error)
        return await refused(request, tx_id, tx, down, "", provider_id)
    result = await resolve_identity(services, login_system, identity)
    if result.account is None:
        return await refused(request, tx_id, tx, result, "", provider_id)
    return await signed_in(request, tx_id, tx, result, ["fed"])
