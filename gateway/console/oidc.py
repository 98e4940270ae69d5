"""The console as a relying party of its own issuer (OIDC Core §3.1, authorization code flow
with PKCE, RFC 7636), through Authlib's OAuth 2.0 client. The token and revocation endpoints
are called in-process (httpx's ASGI transport into this very application), so the console needs
no route from the server back to its public address; they answer exactly as over the network."""

from __future__ import annotations

import secrets
import warnings
from dataclasses import dataclass
from typing import Any

import httpx
from starlette.requests import Request

from gateway.endpoints.authorize import AUTHORIZE_PATH
from gateway.endpoints.discovery import REVOCATION_PATH, TOKEN_PATH
from gateway.identity.console_client import (
    CALLBACK_PATH,
    CONSOLE_CLIENT_ID,
    CONSOLE_SCOPES,
    console_secret,
)
from gateway.oauth.tokens_in import TokenRejected, verify_own_jwt
from gateway.server.services import Services

with warnings.catch_warnings():
    # Authlib asks for its httpx2 fork; the httpx it falls back to is the one we depend on.
    warnings.filterwarnings("ignore", "The httpx module is deprecated")
    from authlib.integrations.httpx_client import AsyncOAuth2Client
    from authlib.integrations.httpx_client import OAuthError as ClientError

SCOPE = " ".join(("openid", *CONSOLE_SCOPES))


class SignInFailed(Exception):
    """The issuer refused the code, or its ID token does not belong to this sign-in."""


@dataclass
class Tokens:
    account_id: str
    access_token: str
    access_expires_at: float
    refresh_token: str | None
    id_token: str


def _client(request: Request) -> AsyncOAuth2Client:
    services: Services = request.app.state.services
    issuer = services.settings.issuer
    peer = request.client.host if request.client else "127.0.0.1"
    return AsyncOAuth2Client(
        client_id=CONSOLE_CLIENT_ID,
        client_secret=console_secret(services.master_key),
        token_endpoint_auth_method="client_secret_basic",  # noqa: S106 - a method's name
        redirect_uri=issuer + CALLBACK_PATH,
        scope=SCOPE,
        code_challenge_method="S256",
        transport=httpx.ASGITransport(app=request.app, client=(peer, 0)),
        base_url=issuer,
    )


def authorization_url(request: Request, state: str, verifier: str, nonce: str, locale: str) -> str:
    services: Services = request.app.state.services
    client = _client(request)
    url, _ = client.create_authorization_url(
        services.settings.issuer + AUTHORIZE_PATH,
        state=state,
        code_verifier=verifier,
        nonce=nonce,
        ui_locales=locale,
    )
    return url


def new_secrets() -> tuple[str, str, str]:
    """state, PKCE code verifier (RFC 7636 §4.1: 43 to 128 characters), nonce."""
    return secrets.token_urlsafe(24), secrets.token_urlsafe(48), secrets.token_urlsafe(24)


def _tokens(services: Services, answer: dict[str, Any], nonce: str | None) -> Tokens:
    """The answer's ID token checked (OIDC Core §3.1.3.7): ours, for the console, this nonce."""
    id_token = answer.get("id_token")
    if not isinstance(id_token, str) or not isinstance(answer.get("access_token"), str):
        raise SignInFailed("the token answer lacks a token")
    try:
        claims = verify_own_jwt(services, id_token)
    except TokenRejected as error:
        raise SignInFailed(f"the ID token was refused: {error}") from None
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if CONSOLE_CLIENT_ID not in audiences:
        raise SignInFailed("the ID token is for another app")
    if nonce is not None and not secrets.compare_digest(str(claims.get("nonce", "")), nonce):
        raise SignInFailed("the ID token answers another sign-in")
    expires_in = answer.get("expires_in")
    lifetime = expires_in if isinstance(expires_in, int) else services.settings.access_token_ttl
    return Tokens(
        account_id=str(claims.get("sub")),
        access_token=answer["access_token"],
        access_expires_at=services.clock.now() + lifetime,
        refresh_token=answer.get("refresh_token"),
        id_token=id_token,
    )


async def exchange(request: Request, code: str, verifier: str, nonce: str) -> Tokens:
    services: Services = request.app.state.services
    async with _client(request) as client:
        try:
            answer = await client.fetch_token(TOKEN_PATH, code=code, code_verifier=verifier)
        except ClientError as error:
            raise SignInFailed(f"the token endpoint refused the code: {error.error}") from None
    return _tokens(services, dict(answer), nonce)


async def refresh(request: Request, refresh_token: str) -> tuple[str, float, str] | None:
    """A new access token (its expiry, and the refresh token to use next) for a session whose
    access token expired; None when the refresh token no longer works (its SSO session ended,
    the account was disabled)."""
    services: Services = request.app.state.services
    async with _client(request) as client:
        try:
            answer = await client.refresh_token(TOKEN_PATH, refresh_token=refresh_token)
        except ClientError:
            return None
    access_token = answer.get("access_token")
    if not isinstance(access_token, str):
        return None
    expires_in = answer.get("expires_in")
    lifetime = expires_in if isinstance(expires_in, int) else services.settings.access_token_ttl
    return access_token, services.clock.now() + lifetime, answer.get("refresh_token", refresh_token)


async def revoke(request: Request, token: str) -> None:
    """Revoke a refresh token (RFC 7009); the access tokens of its grant go with it."""
    async with _client(request) as client:
        await client.revoke_token(REVOCATION_PATH, token, token_type_hint="refresh_token")  # noqa: S106
