"""The gateway's JSON answers: every error body, and cached public documents.

Two error formats, each built here only: OAuth endpoints answer RFC 6749 §5.2 errors
(``oauth_error``); the admin API, the account and enterprise APIs and any other JSON API answer
RFC 9457 problems (``Problem`` and its kinds). Every ``error_description`` the gateway sends
(JSON bodies, redirects, ``WWW-Authenticate``) passes through ``description_text``: RFC 6749
§5.2 and RFC 6750 §3 allow only printable ASCII without the double quote and the backslash.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from typing import Any

from pydantic import ValidationError
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


def oauth_error_fields(error: str, description: str | None = None) -> dict[str, str]:
    """The RFC 6749 §5.2 members, for a JSON body or a redirect's parameters."""
    fields = {"error": error}
    if description:
        fields["error_description"] = description_text(description, error)
    return fields


def oauth_error(
    error: str,
    description: str | None = None,
    status: int = 400,
    headers: dict[str, str] | None = None,
) -> Response:
    body = oauth_error_fields(error, description)
    return Response(
        json.dumps(body, separators=(",", ":")),
        status_code=status,
        media_type="application/json",
        headers={**NO_STORE_HEADERS, **(headers or {})},
    )


# -- RFC 9457 problems -------------------------------------------------------------------------

PROBLEM_MEDIA = "application/problem+json"
PROBLEM_BASE = "urn:yihaotong:problem:"


class Problem(Exception):
    """One RFC 9457 problem; raise a kind below, or answer ``problem.response()``."""

    status = 400
    slug = "bad-request"
    title = "Bad request"
    denied = False  # a refusal of who is asking (audited as admin.denied), not of what

    def __init__(
        self,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        denied: bool | None = None,
        **members: str,
    ) -> None:
        """``members``: extension members (RFC 9457 §3.2), e.g. the ``scope`` a token lacks."""
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}
        self.members = members
        if denied is not None:
            self.denied = denied

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": PROBLEM_BASE + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            **self.members,
        }
        if self.errors is not None:
            body["errors"] = self.errors
        return body

    def response(self) -> Response:
        return Response(
            json.dumps(self.body(), ensure_ascii=False),
            status_code=self.status,
            media_type=PROBLEM_MEDIA,
            headers={"Cache-Control": "no-store", **self.headers},
        )


class Malformed(Problem):
    status, slug, title = 400, "malformed-request", "The request cannot be read"


class Unauthenticated(Problem):
    status, slug, title = 401, "unauthenticated", "A valid access token is needed"
    denied = True


class Forbidden(Problem):
    status, slug, title = 403, "forbidden", "Not allowed"
    denied = True


class Missing(Problem):
    status, slug, title = 404, "not-found", "Not found"


class NotAllowed(Problem):
    status, slug, title = 405, "method-not-allowed", "Method not allowed"


class Clash(Problem):
    status, slug, title = 409, "conflict", "Conflicts with the current state"


class Stale(Problem):
    status, slug, title = 412, "precondition-failed", "The resource changed"


class Unversioned(Problem):
    status, slug, title = 428, "precondition-required", "Say which version you change"


class TooLarge(Problem):
    status, slug, title = 413, "content-too-large", "The body is too large"


class UnsupportedMedia(Problem):
    status, slug, title = 415, "unsupported-media-type", "Send application/json"


class Invalid(Problem):
    status, slug, title = 422, "validation-error", "The request is not valid"

    @classmethod
    def field(cls, loc: list[str | int], message: str, *, denied: bool = False) -> Invalid:
        """``denied``: the field names something outside the caller's reach."""
        where = ".".join(str(part) for part in loc)
        errors = [{"loc": loc, "field": where, "message": message}]
        return cls(f"{where}: {message}", errors=errors, denied=denied)

    @classmethod
    def of(cls, error: ValidationError, *where: str) -> Invalid:
        """Each field pydantic refused, under ``where`` (e.g. ``body``) in ``loc``."""
        errors = []
        for item in error.errors(include_url=False):
            loc = [*where, *item["loc"]]
            field = ".".join(str(part) for part in loc)
            errors.append({"loc": loc, "field": field, "message": item["msg"]})
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        return cls(detail, errors=errors)


class ServerError(Problem):
    status, slug, title = 500, "server-error", "Server error"


class Unavailable(Problem):
    status, slug, title = 503, "unavailable", "Try again later"


PROBLEMS: tuple[type[Problem], ...] = (
    Malformed,
    Unauthenticated,
    Forbidden,
    Missing,
    NotAllowed,
    Clash,
    Stale,
    TooLarge,
    UnsupportedMedia,
    Invalid,
    Unavailable,
)


# -- cached public documents --------------------------------------------------------------------


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
