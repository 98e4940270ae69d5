"""Every JSON document the gateway reads from a request goes through ``parse_json``: bounded in
size and in nesting before the parser sees it, so a body of 50,000 ``[`` is a 400 and never a
RecursionError (or a deep walk in the code that validates it)."""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.requests import Request

from gateway.server.forms import FormError, read_body

MAX_DEPTH = 32  # no document we take nests deeper than a handful of levels
MAX_BYTES = 256 * 1024
# A string runs to its closing quote or to the end of the body: a match that can never fail
# is never retried from the next quote, so the scan stays linear on an unterminated string.
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*+(?:"|\\?\Z)', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")


class JsonBodyError(FormError, ValueError):
    """The body is not JSON within the limits (``status`` 400, or 413 when too large)."""


def _too_deep(raw: bytes, max_depth: int) -> bool:
    depth = 0
    for bracket in _BRACKET.finditer(_STRING.sub(b"", raw)):
        depth += 1 if bracket.group() in (b"[", b"{") else -1
        if depth > max_depth:
            return True
    return False


def parse_json(raw: bytes | str, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    if len(data) > max_bytes:
        raise JsonBodyError(f"The body is larger than {max_bytes} bytes.", status=413)
    if _too_deep(data, max_depth):
        raise JsonBodyError(f"The JSON nests deeper than {max_depth} levels.")
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise JsonBodyError("The body is not valid JSON.") from None


async def read_json_body(request: Request, max_bytes: int = MAX_BYTES) -> bytes:
    """The request body, refused (FormError: 400, or 413) unless it is JSON within the limits."""
    body = await read_body(request, max_bytes)
    parse_json(body, max_bytes=max_bytes)
    return body
