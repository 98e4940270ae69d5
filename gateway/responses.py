"""JSON responses shared by the endpoints: RFC 6749 §5.2 errors and cached public documents.

Every ``error_description`` the gateway sends (JSON bodies, redirects, ``WWW-Authenticate``)
passes through ``description_text``: RFC 6749 §5.2 and RFC 6750 §3 allow only printable ASCII
without the double quote and the backslash.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re

from starlette.requests import Request
from starlette.responses import Response

log = logging.getLogger("yihaotong")

NO_STORE_HEADERS = {"Cache-Control": "no-store", "Pragma": "no-cache"}
# %x20-21 / %x23-5B / %x5D-7E
DESCRIPTION = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]*")
_SUBSTITUTES = str.maketrans({"§": "section ", '"': "'", "\\": "/"})


def description_text(description: str, error: str = "") -> str:
    """``description`` if every character is allowed; otherwise a conforming copy (near
    look-alikes for a few characters, ``?`` for the rest) and a warning, so a bad text
    written in the future is caught here rather than sent."""
    if DESCRIPTION.fullmatch(description):
        return description
    # The text itself is not logged: it may quote what the request sent.
    log.warning(
        "error_description outside RFC 6749 section 5.2 characters; replaced",
        extra={"fields": {"error": error}},
    )
    substituted = description.translate(_SUBSTITUTES)
    return "".join(ch if DESCRIPTION.fullmatch(ch) else "?" for ch in substituted)


def oauth_error(
    error: str,
    description: str | None = None,
    status: int = 400,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, str] = {"error": error}
    if description:
        body["error_description"] = description_text(description, error)
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
