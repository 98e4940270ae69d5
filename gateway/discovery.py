"""Provider metadata (OpenID Connect Discovery 1.0, RFC 8414) and the JWKS (RFC 7517).

The metadata lists exactly what this gateway implements today. Both documents change rarely
(the JWKS at key rotation), so each response — body, ETag and headers — is built once per
version of the document, and the app answers them before routing and middleware (they are the
most requested and least varied documents: every relying party and resource server polls them)."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from starlette.datastructures import State
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope, Send

from gateway.claims import STANDARD_SCOPES, SUPPORTED_CLAIMS
from gateway.logs import SECURITY_HEADERS, log_request, request_id_for
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


class PublicDocument:
    """A public JSON document with an ETag (a matching If-None-Match gets 304), answered straight
    from the ASGI scope: status line and headers are built once per document version."""

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
        # Before routing, the answer carries what the request-log middleware would add.
        self._fast_ok = [*self._ok, *SECURITY_HEADERS]
        self._fast_not_modified = [*self._common, *SECURITY_HEADERS]
        # The same, as HTTP/1.1 header lines, for the HTTP protocol's own answer (protocol.py).
        self._lines_ok = _header_lines(self._fast_ok)
        self._lines_not_modified = _header_lines(self._fast_not_modified)

    def _answer(self, if_none_match: str) -> tuple[int, bytes]:
        return (304, b"") if self.etag in if_none_match else (200, self.body)

    async def send(self, scope: Scope, send: Send) -> None:
        """The answer before routing and middleware: headers, request id and access line."""
        started = time.perf_counter()
        request_id = request_id_for(scope)
        status, body = self._answer(header_value(scope, b"if-none-match"))
        headers = self._fast_ok if status == 200 else self._fast_not_modified
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [*headers, (b"x-request-id", request_id.encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})
        log_request(scope, request_id, status, started)

    def header_lines(self, if_none_match: str) -> tuple[int, bytes, bytes]:
        """Status, header lines and body for an answer written straight to the connection."""
        status, body = self._answer(if_none_match)
        return status, self._lines_ok if status == 200 else self._lines_not_modified, body

    def response(self, request: Request) -> Response:
        """The routed answer (the middleware adds the rest)."""
        status, body = self._answer(request.headers.get("if-none-match", ""))
        response = Response(body, status_code=status)
        response.raw_headers = list(self._ok if status == 200 else self._common)
        return response


def _header_lines(headers: list[tuple[bytes, bytes]]) -> bytes:
    return b"".join(name + b": " + value + b"\r\n" for name, value in headers)


def header_value(scope: Scope, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return ""


_jwks: dict[int, PublicDocument] = {}


def _jwks_document(services: Services) -> PublicDocument:
    body = services.keys.jwks_json()  # the same bytes object until the published set changes
    cached = _jwks.get(id(services))
    if cached is None or cached.body is not body:
        cached = PublicDocument(body, services.settings.jwks_max_age)
        _jwks[id(services)] = cached
    return cached


def public_document(state: State, path: str) -> PublicDocument | None:
    """The document served at ``path``, or None (another path, or the app not started yet)."""
    if path == JWKS_PATH:
        services = getattr(state, "services", None)
        return _jwks_document(services) if services is not None else None
    if path in (DISCOVERY_PATH, OAUTH_METADATA_PATH):
        return getattr(state, "metadata_document", None)
    return None


async def discovery_endpoint(request: Request) -> Response:
    """Routed: reached only when the fast path is not (a root path set by a proxy, say)."""
    return request.app.state.metadata_document.response(request)


async def jwks_endpoint(request: Request) -> Response:
    return _jwks_document(request.app.state.services).response(request)
