"""Pushed authorization requests (RFC 9126): the client posts the authorization request's
parameters first, authenticated as at the token endpoint, and gets a ``request_uri`` to send the
browser with; the parameters never pass through the browser and cannot be altered there.

A ``request_uri`` is random, bound to its client, used once and short-lived
(``YIHAOTONG_PAR_LIFETIME``). The parameters are checked as the authorization endpoint checks
them before one is issued (§2.1), and again when it is used.
"""

from __future__ import annotations

import secrets

import orjson
from authlib.oauth2.rfc6749 import OAuth2Error
from starlette.requests import Request
from starlette.responses import Response

from gateway.endpoints.discovery import PAR_PATH
from gateway.identity import expiry_sweep
from gateway.oauth.client_auth import authenticate
from gateway.oauth.dpop import INVALID_PROOF, DPoPError, nonce_headers, single_proof, verify_proof
from gateway.oauth.models import FormRequest, GrantContext, grant_context
from gateway.oauth.request_checks import PUSHED
from gateway.server.forms import FormError, read_form
from gateway.server.responses import NO_STORE_HEADERS, oauth_error
from gateway.server.services import Services
from store import kv_keys

REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"
_ALL_METHODS = ["client_secret_basic", "client_secret_post", "none"]
_REFERENCE_LENGTH = 43  # secrets.token_urlsafe(32)


async def pushed_authorization_endpoint(request: Request) -> Response:
    """RFC 9126 §2: check the request, keep it, answer 201 with its ``request_uri``."""
    services: Services = request.app.state.services
    try:
        form = await read_form(request, services.settings.max_form_bytes)
    except FormError as error:
        return oauth_error("invalid_request", error.description, error.status)
    client, refused = await authenticate(request, form, "pushed_authorization", _ALL_METHODS)
    if refused is not None:
        return refused
    assert client is not None
    if "request_uri" in form:
        return oauth_error("invalid_request", "request_uri cannot be pushed (RFC 9126 2.1).")
    if form.get("client_id", client.client_id) != client.client_id:
        return oauth_error("invalid_request", "client_id differs from the authenticated client.")
    params = {
        name: value
        for name, value in form.items()
        if name not in ("client_secret", "client_assertion", "client_assertion_type")
    }
    params["client_id"] = client.client_id
    try:
        bound = await pushed_key(services, request, params.get("dpop_jkt"))
    except DPoPError as error:
        return oauth_error(error.error, error.description, 400, nonce_headers(services))
    if bound:
        params["dpop_jkt"] = bound
    context = GrantContext(clients={client.client_id: client})
    if "resource" in params:
        context.resources = await services.resources.snapshot()
    oauth_request = FormRequest(
        "GET", request.app.state.authorize_url, {}, request.headers, {**params, PUSHED: "1"}
    )
    scope = grant_context.set(context)
    try:
        request.app.state.oauth.get_consent_grant(request=oauth_request, end_user=None)
    except OAuth2Error as error:
        return oauth_error(error.error, error.description)
    except ValueError:  # Authlib refuses to quote odd characters back in an error
        return oauth_error("invalid_request", "The authorization request is not valid.")
    finally:
        grant_context.reset(scope)
    reference = secrets.token_urlsafe(32)
    ttl = services.settings.par_lifetime
    record = orjson.dumps({"client_id": client.client_id, "params": params})
    await services.expiring.put(
        kv_keys.pushed_request(reference), record, ttl, expiry_sweep.PUSHED_REQUEST
    )
    body = {"request_uri": REQUEST_URI_PREFIX + reference, "expires_in": ttl}
    return Response(
        orjson.dumps(body),
        status_code=201,
        media_type="application/json",
        headers=NO_STORE_HEADERS,
    )


async def pushed_key(services: Services, request: Request, dpop_jkt: str | None) -> str | None:
    """A DPoP proof sent with the push binds the code to its key (RFC 9449 §10.1); with
    ``dpop_jkt`` too, both must name the same key."""
    proof = single_proof(request.headers)
    if proof is None:
        return dpop_jkt
    url = services.settings.issuer + PAR_PATH
    jkt = (await verify_proof(services, proof, method="POST", uri=url)).jkt
    if dpop_jkt is not None and dpop_jkt != jkt:
        raise DPoPError(INVALID_PROOF, "dpop_jkt is not the key of the DPoP proof.")
    return jkt


class PushedRequestError(Exception):
    """A ``request_uri`` that cannot be used: unknown, used, expired or another client's."""


async def pushed_params(services: Services, params: dict[str, str]) -> dict[str, str]:
    """The parameters of an authorization request: those pushed, when ``params`` name a
    ``request_uri`` (taken once; RFC 9126 §4), else ``params`` as sent, never marked pushed."""
    params = {name: value for name, value in params.items() if name != PUSHED}
    request_uri = params.get("request_uri")
    if request_uri is None:
        return params
    reference = request_uri.removeprefix(REQUEST_URI_PREFIX)
    if reference == request_uri or len(reference) != _REFERENCE_LENGTH:
        raise PushedRequestError("the request_uri was not issued by this server")
    raw = await services.expiring.take(
        kv_keys.pushed_request(reference), expiry_sweep.PUSHED_REQUEST
    )
    if raw is None:
        raise PushedRequestError("the request_uri is unknown, expired or used already")
    record = orjson.loads(raw)
    if params.get("client_id") != record["client_id"]:
        raise PushedRequestError("the request_uri was issued to another client")
    return {**record["params"], PUSHED: "1"}
