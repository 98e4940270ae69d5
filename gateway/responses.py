"""JSON responses shared by the endpoints: RFC 6749 §5.2 errors and cached public documents."""

from __future__ import annotations

import hashlib
import json

from starlette.requests import Request
from starlette.responses import Response

from gateway.oauth import NO_STORE_HEADERS


def oauth_error(
    error: str,
    description: str | None = None,
    status: int = 400,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, str] = {"error": error}
    if description:
        body["error_description"] = description
    return Response(
        json.dumps(body, separators=(",", ":")),
        status_code=status,
        media_type="application/json",
        headers={**NO_STORE_HEADERS, **(headers or {})},
    )


def cached_json(request: Request, body: bytes, max_age: int) -> Response:
    """A public JSON document with an ETag; answers 304 to a matching If-None-Match."""
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {
        "Cache-Control": f"public, max-age={max_age}",
        "ETag": etag,
        "Access-Control-Allow-Origin": "*",
    }
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)
