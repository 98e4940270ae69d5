"""The admin API's HTTP plumbing: endpoints declare what they take and answer (the OpenAPI
document is built from the same declarations), and one dispatcher authenticates, parses,
validates and turns every error into an RFC 9457 problem. Nothing reaches the client as a
stack trace."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from gateway.admin.auth import Admin, authenticate
from gateway.admin.changes import Actor
from gateway.admin.denials import is_denial, record_denial
from gateway.admin.etags import Precondition
from gateway.admin.reach import Reach
from gateway.server.json_body import JsonBodyError, parse_json
from gateway.server.responses import (
    Invalid,
    Malformed,
    Missing,
    NotAllowed,
    Problem,
    ServerError,
    Unavailable,
    UnsupportedMedia,
)
from gateway.server.services import Services
from store.errors import Unavailable as StoreUnavailable
from store.kv import ExpiringStoreError

log = logging.getLogger("yihaotong.admin")
MAX_BODY = 256 * 1024
NO_STORE = {"Cache-Control": "no-store"}


@dataclass
class Call:
    request: Request
    services: Services
    admin: Admin
    reach: Reach
    actor: Actor
    params: dict[str, str]
    query: Any
    body: Any
    fields: set[str]  # the body fields the request named (for PATCH)
    pre: Precondition


@dataclass
class Reply:
    body: BaseModel | None = None
    status: int = 200
    etag: str | None = None
    stream: AsyncIterator[bytes] | None = None
    media_type: str = "application/json"


Handler = Callable[[Call], Awaitable[Reply]]


@dataclass
class Endpoint:
    method: str
    path: str
    handler: Handler
    scope: str
    summary: str
    tag: str
    out: type[BaseModel] | None = None
    status: int = 200
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    etag: bool = False
    if_match: bool = False
    media_type: str = "application/json"
    problems: tuple[int, ...] = ()
    description: str = ""
    operation_id: str = field(default="")

    @property
    def path_params(self) -> list[str]:
        return re.findall(r"{(\w+)}", self.path)


ENDPOINTS: list[Endpoint] = []


def endpoint(method: str, path: str, **options: Any) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        ENDPOINTS.append(
            Endpoint(
                method,
                path,
                handler,
                operation_id=handler.__name__,
                description=(handler.__doc__ or "").strip(),
                **options,
            )
        )
        return handler

    return register


def _nul_at(data: Any, loc: list[str | int]) -> list[str | int] | None:
    """Where a NUL character hides in ``data`` (no store keeps one; PostgreSQL refuses it)."""
    if isinstance(data, str):
        return loc if "\x00" in data else None
    items = (
        data.items()
        if isinstance(data, dict)
        else enumerate(data)
        if isinstance(data, list)
        else ()
    )
    for key, value in items:
        if isinstance(key, str) and "\x00" in key:
            return [*loc, key]
        if (found := _nul_at(value, [*loc, key])) is not None:
            return found
    return None


def validated(model: type[BaseModel], data: Any, where: str) -> BaseModel:
    """``data`` checked by ``model``, as a 422 problem naming each field (the command line
    checks its input with the same models)."""
    if (nul := _nul_at(data, [where])) is not None:
        raise Invalid.field(nul, "must not contain NUL characters")
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise Invalid.of(error, where) from None


async def _read_body(request: Request, model: type[BaseModel]) -> BaseModel:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise UnsupportedMedia("Send the body as application/json.")
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY:
            raise Malformed(f"The body is larger than {MAX_BODY} bytes.")
    try:
        data = parse_json(raw, max_bytes=MAX_BODY)
    except JsonBodyError as error:
        raise Malformed(error.description) from None
    return validated(model, data, "body")


async def _call(request: Request, found: Endpoint) -> Response:
    services: Services = request.app.state.services
    admin = await authenticate(request)
    request.state.admin = admin  # for the audit of a refusal
    reach = admin.reach(found.scope)
    if _nul_at(dict(request.path_params), ["path"]) is not None:
        raise Missing("No such resource.")
    query = None
    if found.query is not None:
        query = validated(found.query, dict(request.query_params), "query")
    body, fields = None, set()
    if found.body is not None:
        body = await _read_body(request, found.body)
        fields = set(body.model_fields_set)
    call = Call(
        request=request,
        services=services,
        admin=admin,
        reach=reach,
        actor=Actor(admin.account_id, admin.client_id, request),
        params=dict(request.path_params),
        query=query,
        body=body,
        fields=fields,
        pre=Precondition(request.headers.get("if-match")),
    )
    reply = await found.handler(call)
    headers = dict(NO_STORE)
    if reply.etag:
        headers["ETag"] = reply.etag
    if reply.stream is not None:
        return StreamingResponse(
            reply.stream, status_code=reply.status, media_type=reply.media_type, headers=headers
        )
    if reply.body is None:
        return Response(status_code=reply.status, headers=headers)
    return Response(
        reply.body.model_dump_json(),
        status_code=reply.status,
        media_type=reply.media_type,
        headers=headers,
    )


def route_handler(path_endpoints: list[Endpoint]) -> Callable[[Request], Awaitable[Response]]:
    """One Starlette endpoint per path, choosing by method (so a wrong method is a 405
    problem too)."""
    by_method = {e.method: e for e in path_endpoints}

    async def handle(request: Request) -> Response:
        found = by_method.get(request.method)
        try:
            if found is None:
                raise NotAllowed(
                    f"{request.method} is not allowed here.",
                    headers={"Allow": ", ".join(sorted(by_method))},
                )
            return await _call(request, found)
        except Problem as problem:
            if found is not None and is_denial(request, problem):
                admin = getattr(request.state, "admin", None)
                await record_denial(
                    request.app.state.services,
                    request,
                    problem,
                    found.operation_id,
                    admin.account_id if admin else None,
                    admin.client_id if admin else None,
                )
            return problem.response()
        except (StoreUnavailable, SQLAlchemyError, ExpiringStoreError, OSError):
            log.exception("admin request failed: a store is unavailable")
            retry = {"Retry-After": "1"}
            return Unavailable("A store did not answer; try again.", headers=retry).response()
        except Exception:
            log.exception("admin request failed")
            return ServerError("The server could not complete the request.").response()

    return handle


async def not_found(scope: Any, receive: Any, send: Any) -> None:
    await Missing("No such resource.").response()(scope, receive, send)
