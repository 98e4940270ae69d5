"""Reading OAuth form bodies strictly and cheaply (Starlette's multipart-capable parser does far
more than an ``application/x-www-form-urlencoded`` body needs)."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

from starlette.requests import ClientDisconnect, Request

MAX_FIELDS = 64
# No OAuth parameter carries control characters; NUL would also be refused by PostgreSQL.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_VALUE_LENGTH = 4096


class FormError(Exception):
    """The body cannot be read as an OAuth form; ``status`` is 400 or 413."""

    def __init__(self, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.description = description
        self.status = status


def parse_params(text: str) -> dict[str, str]:
    """Parse a query string or form body. A repeated parameter is an error (RFC 6749 §3.1) and
    one without a value counts as absent."""
    try:
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except ValueError as error:
        raise FormError(f"More than {MAX_FIELDS} parameters.") from error
    params: dict[str, str] = {}
    for name, value in pairs:
        if _CONTROL.search(name) or _CONTROL.search(value):
            raise FormError(f"The parameter '{_ascii(name)}' contains control characters.")
        if name in params:
            raise FormError(f"The parameter '{_ascii(name)}' is repeated.")
        if len(value) > MAX_VALUE_LENGTH:
            raise FormError(f"The parameter '{_ascii(name)}' is too long.")
        if value != "":
            params[name] = value
    return params


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The request body, refused (413) past ``max_bytes`` without reading the rest."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise FormError("Invalid Content-Length.")
        if int(declared) > max_bytes:
            raise FormError(f"The body is larger than {max_bytes} bytes.", status=413)
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > max_bytes:
                raise FormError(f"The body is larger than {max_bytes} bytes.", status=413)
    except ClientDisconnect as error:
        raise FormError("The client disconnected.") from error
    return bytes(body)


async def read_form(request: Request, max_bytes: int) -> dict[str, str]:
    content_type = request.headers.get("content-type", "")
    media_type, _, parameters = content_type.partition(";")
    if media_type.strip().lower() != "application/x-www-form-urlencoded":
        raise FormError("The body must be application/x-www-form-urlencoded.")
    charset = parameters.strip().lower()
    if charset and charset.replace(" ", "") not in ("charset=utf-8", 'charset="utf-8"'):
        raise FormError("The body must be UTF-8.")
    body = await read_body(request, max_bytes)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise FormError("The body is not valid UTF-8.") from error
    return parse_params(text)


def _ascii(text: str) -> str:
    """Error descriptions must stay within RFC 6749's printable ASCII set."""
    cleaned = "".join(ch if 0x20 <= ord(ch) <= 0x7E and ch not in '"\\' else "?" for ch in text)
    return cleaned[:64]
