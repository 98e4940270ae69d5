"""Back-channel logout tokens, OpenID Connect Back-Channel Logout 1.0 §2.6 (validation) and §2.8
(the answer): the gateway POSTs ``logout_token``; the API checks it and calls its hook."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

from jose import jwt
from jose.exceptions import JOSEError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from yihaotong_resource.gateway import GatewayUnavailable
from yihaotong_resource.guard import ResourceServer, unavailable

FORM = "application/x-www-form-urlencoded"
MAX_BODY = 65536
LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LogoutHook = Callable[[str | None, str | None, dict[str, Any]], Awaitable[None]]


class InvalidLogoutToken(Exception):
    pass


async def validate_logout_token(server: ResourceServer, token: str) -> dict[str, Any]:
    """The claims of a valid logout token (§2.6 steps 1-7), or InvalidLogoutToken."""
    config = server.config
    try:
        header = jwt.get_unverified_header(token)
    except JOSEError:
        raise InvalidLogoutToken("malformed") from None
    if header.get("alg") not in config.algorithms:
        raise InvalidLogoutToken("algorithm not accepted")
    if header.get("typ", "logout+jwt") != "logout+jwt":
        raise InvalidLogoutToken("not a logout token")
    key = await server.gateway.key(header.get("kid"))
    if key is None:
        raise InvalidLogoutToken("unknown key")
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[header["alg"]],
            audience=config.client_id,
            issuer=config.issuer,
            options={"require_iat": True, "leeway": config.leeway},
        )
    except JOSEError as error:
        raise InvalidLogoutToken(str(error)) from None
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(LOGOUT_EVENT), dict):
        raise InvalidLogoutToken("no back-channel logout event")
    if not (isinstance(claims.get("sub"), str) or isinstance(claims.get("sid"), str)):
        raise InvalidLogoutToken("neither sub nor sid")
    if "nonce" in claims:
        raise InvalidLogoutToken("a nonce is forbidden")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not await server.replay_cache.first_use(f"logout:{jti}", 600):
        raise InvalidLogoutToken("missing or replayed jti")
    return claims


async def _logout_token_in(request: Request) -> str | None:
    """The form's ``logout_token`` (§2.5: application/x-www-form-urlencoded), read without the
    multipart parser's dependency; bodies past 64 KiB are not read."""
    if request.headers.get("content-type", "").split(";")[0].strip() != FORM:
        return None
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            return None
    values = parse_qs(body.decode("utf-8", "replace")).get("logout_token", [])
    return values[0] if len(values) == 1 else None


def logout_route(server: ResourceServer, path: str, on_logout: LogoutHook | None = None) -> Route:
    """A route receiving logout tokens. Tokens of the ended session are refused from then on;
    ``on_logout(sub, sid, claims)`` ends the API's own state for that person or session."""

    async def receive(request: Request) -> Response:
        headers = {"Cache-Control": "no-store"}
        token = await _logout_token_in(request)
        if token is None:
            body = {"error": "invalid_request", "error_description": "A logout_token is needed."}
            return JSONResponse(body, 400, headers)
        try:
            claims = await validate_logout_token(server, token)
        except InvalidLogoutToken as error:
            body = {"error": "invalid_request", "error_description": f"Logout token: {error}."}
            return JSONResponse(body, 400, headers)
        except GatewayUnavailable:
            return unavailable()
        if isinstance(claims.get("sid"), str):
            server.end_session(claims["sid"])
        if on_logout is not None:
            await on_logout(claims.get("sub"), claims.get("sid"), claims)
        return Response(status_code=200, headers=headers)

    return Route(path, receive, methods=["POST"])
