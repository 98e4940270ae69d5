"""Provider metadata (OpenID Connect Discovery 1.0, RFC 8414) and the JWKS (RFC 7517).

The metadata lists exactly what this gateway implements today. Both documents change rarely
(the JWKS at key rotation), so each response — body, ETag and headers — is built once per
version of the document, and the app answers them before routing and middleware (they are the
most requested and least varied documents: every relying party and resource server polls them)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from gateway.identity.claims import STANDARD_SCOPES, SUPPORTED_CLAIMS
from gateway.oauth.dpop import DPOP_SIGNING_ALGS
from gateway.oauth.token_exchange import TOKEN_EXCHANGE
from gateway.server.services import Services
from gateway.server.settings import Settings

DISCOVERY_PATH = "/.well-known/openid-configuration"
OAUTH_METADATA_PATH = "/.well-known/oauth-authorization-server"
JWKS_PATH = "/.well-known/jwks.json"
TOKEN_PATH = "/oauth/token"  # noqa: S105 - a path, not a password
AUTHORIZE_PATH = "/oauth/authorize"
USERINFO_PATH = "/oauth/userinfo"
INTROSPECTION_PATH = "/oauth/introspect"
REVOCATION_PATH = "/oauth/revoke"
END_SESSION_PATH = "/oauth/logout"
DEVICE_AUTHORIZATION_PATH = "/oauth/device_authorization"  # RFC 8628 §4
PAR_PATH = "/oauth/par"
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
        "device_authorization_endpoint": issuer + DEVICE_AUTHORIZATION_PATH,
        "pushed_authorization_request_endpoint": issuer + PAR_PATH,
        "require_pushed_authorization_requests": settings.require_pushed_authorization_requests,
        "scopes_supported": list(STANDARD_SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "form_post"],
        "grant_types_supported": [
            "authorization_code",
            "refresh_token",
            "client_credentials",
            "urn:ietf:params:oauth:grant-type:device_code",
            TOKEN_EXCHANGE,
        ],
        "subject_types_supported": ["public", "pairwise"],
        "id_token_signing_alg_values_supported": [id_token_alg],
        "access_token_signing_alg_values_supported": list(settings.signing_algs),
        "token_endpoint_auth_methods_supported": [*client_auth, "none"],
        "introspection_endpoint_auth_methods_supported": client_auth,
        "revocation_endpoint_auth_methods_supported": [*client_auth, "none"],
        "code_challenge_methods_supported": ["S256"],
        "dpop_signing_alg_values_supported": list(DPOP_SIGNING_ALGS),
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


class PublicDocument:
    """A public JSON document built once per version, with an ETag (a matching If-None-Match
    gets 304) and the headers every answer of it carries."""

    def __init__(self, body: bytes, max_age: int) -> None:
        self.body = body
        self.etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        self._common = [
            (b"cache-control", f"public, max-age={max_age}".encode()),
            (b"etag", self.etag.encode()),
            (b"access-control-allow-origin", b"*"),
        ]
        self._ok = [
            (b"content-length", str(len(body)).encode()),
            (b"content-type", b"application/json"),
            *self._common,
        ]

    def response(self, request: Request) -> Response:
        if self.etag in request.headers.get("if-none-match", ""):
            response = Response(status_code=304)
            response.raw_headers = list(self._common)
        else:
            response = Response(self.body)
            response.raw_headers = list(self._ok)
        return response


_jwks: dict[int, PublicDocument] = {}


def _jwks_document(services: Services) -> PublicDocument:
    body = services.keys.jwks_json()  # the same bytes object until the published set changes
    cached = _jwks.get(id(services))
    if cached is None or cached.body is not body:
        cached = PublicDocument(body, services.settings.jwks_max_age)
        _jwks[id(services)] = cached
    return cached


async def discovery_endpoint(request: Request) -> Response:
    return request.app.state.metadata_document.response(request)


async def jwks_endpoint(request: Request) -> Response:
    return _jwks_document(request.app.state.services).response(request)
