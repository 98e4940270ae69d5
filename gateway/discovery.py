"""Provider metadata (OpenID Connect Discovery 1.0, RFC 8414) and the JWKS (RFC 7517).

The metadata lists exactly what this gateway implements today; its bytes are built once."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from gateway.claims import STANDARD_SCOPES, SUPPORTED_CLAIMS
from gateway.responses import cached_json
from gateway.services import Services
from gateway.settings import Settings

DISCOVERY_PATH = "/.well-known/openid-configuration"
OAUTH_METADATA_PATH = "/.well-known/oauth-authorization-server"
JWKS_PATH = "/.well-known/jwks.json"
TOKEN_PATH = "/oauth/token"  # noqa: S105 - a path, not a password
AUTHORIZE_PATH = "/oauth/authorize"
USERINFO_PATH = "/oauth/userinfo"
INTROSPECTION_PATH = "/oauth/introspect"
REVOCATION_PATH = "/oauth/revoke"
END_SESSION_PATH = "/oauth/logout"
METADATA_MAX_AGE = 300


def provider_metadata(settings: Settings) -> dict[str, Any]:
    issuer = settings.issuer
    id_token_alg = "RS256" if "RS256" in settings.signing_algs else settings.default_signing_alg
    client_auth = ["client_secret_basic", "client_secret_post"]
    return {
        "issuer": issuer,
        "authorization_endpoint": issuer + AUTHORIZE_PATH,
        "token_endpoint": issuer + TOKEN_PATH,
        "userinfo_endpoint": issuer + USERINFO_PATH,
        "jwks_uri": issuer + JWKS_PATH,
        "introspection_endpoint": issuer + INTROSPECTION_PATH,
        "revocation_endpoint": issuer + REVOCATION_PATH,
        "end_session_endpoint": issuer + END_SESSION_PATH,
        "scopes_supported": list(STANDARD_SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "form_post"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public", "pairwise"],
        "id_token_signing_alg_values_supported": [id_token_alg],
        "access_token_signing_alg_values_supported": list(settings.signing_algs),
        "token_endpoint_auth_methods_supported": [*client_auth, "none"],
        "introspection_endpoint_auth_methods_supported": client_auth,
        "revocation_endpoint_auth_methods_supported": [*client_auth, "none"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": [
            *SUPPORTED_CLAIMS,
            "iss",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "acr",
            "amr",
            "azp",
            "sid",
            "at_hash",
        ],
        "claims_parameter_supported": True,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "ui_locales_supported": ["zh-CN", "en"],
        "acr_values_supported": ["L1", "L2", "L3"],
        "authorization_response_iss_parameter_supported": True,
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
        "frontchannel_logout_supported": True,
        "frontchannel_logout_session_supported": True,
    }


def metadata_bytes(settings: Settings) -> bytes:
    return json.dumps(provider_metadata(settings), separators=(",", ":")).encode()


async def discovery_endpoint(request: Request) -> Response:
    return cached_json(request, request.app.state.metadata_bytes, METADATA_MAX_AGE)


async def jwks_endpoint(request: Request) -> Response:
    services: Services = request.app.state.services
    return cached_json(request, services.keys.jwks_json(), services.settings.jwks_max_age)
