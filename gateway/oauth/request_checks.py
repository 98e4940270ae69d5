"""The authorization request checks Authlib leaves to us (OIDC Core §3.1.2.1, RFC 9449 §10),
run as its hook once the client and redirect URI are known, so that failures go back to the
client."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import InvalidRequestError, OAuth2Error
from authlib.oauth2.rfc6749.util import scope_to_list

from gateway.oauth.dpop import is_thumbprint
from gateway.oauth.models import MAX_AGE, PROMPTS, RESPONSE_MODES, grant_context
from gateway.server.json_body import JsonBodyError, parse_json
from policies.resources import may_target

# Marks the parameters of a pushed request (RFC 9126) once its request_uri is resolved; the
# authorization endpoint removes it from whatever a browser sends.
PUSHED = "yihaotong:pushed"


def _check_request(grant: Any, result: Any) -> None:
    """Checks Authlib leaves to us, run as its hook once the client and redirect URI are
    known (so failures go back to the client)."""
    data = grant.request.payload.data
    if data.get("response_mode") and data["response_mode"] not in RESPONSE_MODES:
        raise InvalidRequestError("response_mode must be query or form_post.")
    # (Authlib hands its hooks the hooked function's result, not the redirect URI.)
    target = data.get("redirect_uri") or grant.request.client.get_default_redirect_uri() or ""
    if data.get("response_mode") == "form_post" and not target.startswith(("https://", "http://")):
        raise InvalidRequestError("form_post needs an http or https redirect URI.")
    if not data.get(PUSHED) and (
        grant.server.services.settings.require_pushed_authorization_requests
        or grant.request.client.record.require_pushed_authorization_requests
    ):
        raise InvalidRequestError("Push the authorization request first (RFC 9126 5, 6).")
    if "resource" in data:
        _check_resource(grant, data["resource"])
    if "request" in data:
        raise OAuth2Error(
            error="request_not_supported", description="Request objects are not supported."
        )
    if "request_uri" in data:
        raise OAuth2Error(
            error="request_uri_not_supported", description="request_uri is not supported."
        )
    if "dpop_jkt" in data and not is_thumbprint(data["dpop_jkt"]):
        raise InvalidRequestError("dpop_jkt must be a JWK SHA-256 thumbprint (RFC 9449 10).")
    prompts = set((data.get("prompt") or "").split())
    if prompts - PROMPTS:
        raise InvalidRequestError("Unsupported prompt value.")
    if "none" in prompts and len(prompts) > 1:
        raise InvalidRequestError("prompt=none cannot be combined with other values.")
    max_age = data.get("max_age")
    if max_age is not None and not MAX_AGE.fullmatch(max_age):
        raise InvalidRequestError("max_age must be a non-negative integer.")
    request_claims = _claims_request(data.get("claims"))
    if "openid" in (scope_to_list(data.get("scope")) or []) and not data.get("redirect_uri"):
        raise InvalidRequestError("redirect_uri is required with scope openid (OIDC Core 3.1.2.1).")
    grant.request.claims_request = request_claims


def _claims_request(raw: str | None) -> dict[str, dict[str, Any]] | None:
    """A ``claims`` request (OIDC Core §5.5) cut down to what is used: the claim names of each
    part, and a requested ``sub`` value. Nothing deeper is kept (or ever serialised again)."""
    if not raw:
        return None
    try:
        parsed = parse_json(raw)
    except JsonBodyError:
        raise InvalidRequestError("claims: not JSON within the size and depth limits.") from None
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict) or not all(
        isinstance(parsed.get(part), dict | None) for part in ("id_token", "userinfo")
    ):
        raise InvalidRequestError("claims must be a JSON object (OIDC Core 5.5).")
    kept: dict[str, dict[str, Any]] = {}
    for part in ("id_token", "userinfo"):
        section = parsed.get(part) or {}
        kept[part] = {str(name)[:64]: None for name in list(section)[:64]}
        wanted = section.get("sub")
        if isinstance(wanted, dict) and isinstance(wanted.get("value"), str):
            kept[part]["sub"] = {"value": wanted["value"][:256]}
    return kept


class RequestChecks:
    """The authorization request checks Authlib leaves to us, run once the client and redirect
    URI are known, so that failures go back to the client."""

    def __call__(self, grant: Any) -> None:
        grant.register_hook("after_validate_authorization_request_payload", _check_request)


def _check_resource(grant: Any, uri: str) -> None:
    """RFC 8707 §2: a registered resource this client may ask for, else ``invalid_target``."""
    client = grant.request.client.record
    target = grant_context.get().resources.get(uri)
    if target is None or not may_target(client.client_id, target.allowed_clients):
        raise OAuth2Error(
            error="invalid_target",
            description="The resource is unknown, or not one this client may ask for.",
        )
