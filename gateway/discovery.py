"""Provider metadata (OpenID Connect Discovery 1.0, RFC 8414) and the JWKS (RFC 7517).

The metadata lists exactly what this gateway implements today; its bytes are built once."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from gateway.responses import cached_json
from gateway.services import Services
from gateway.settings import Settings

DISCOVERY_PATH = "/.well-known/openid-configuration"
OAUTH_METADATA_PATH = "/.well-known/oauth-authorization-server"
JWKS_PATH = "/.well-known/jwks.json"
TOKEN_PATH = "/oauth/token"  # noqa: S105 - a path, not a password
METADATA_MAX_AGE = 300


def provider_metadata(settings: Settings) -> dict[str, Any]:
    issuer = settings.issuer
    return {
        "issuer": issuer,
        "jwks_uri": issuer + JWKS_PATH,
        "token_endpoint": issuer + TOKEN_PATH,
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "access_token_signing_alg_values_supported": list(settings.signing_algs),
    }


def metadata_bytes(settings: Settings) -> bytes:
    return json.dumps(provider_metadata(settings), separators=(",", ":")).encode()


async def discovery_endpoint(request: Request) -> Response:
    return cached_json(request, request.app.state.metadata_bytes, METADATA_MAX_AGE)


async def jwks_endpoint(request: Request) -> Response:
    services: Services = request.app.state.services
    return cached_json(request, services.keys.jwks_json(), services.settings.jwks_max_age)
