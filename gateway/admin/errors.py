"""The admin API's exception tree: each error is one RFC 9457 problem (type, title, status)."""

from __future__ import annotations

from typing import Any

PROBLEM_BASE = "urn:yihaotong:problem:"


class Problem(Exception):
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
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}
        if denied is not None:
            self.denied = denied

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": PROBLEM_BASE + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors is not None:
            body["errors"] = self.errors
        return body


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


class UnsupportedMedia(Problem):
    status, slug, title = 415, "unsupported-media-type", "Send application/json"


class Invalid(Problem):
    status, slug, title = 422, "validation-error", "The request is not valid"

    @classmethod
    def field(cls, loc: list[str | int], message: str, *, denied: bool = False) -> Invalid:
        """``denied``: the field names something outside the admin's reach."""
        where = ".".join(str(part) for part in loc)
        errors = [{"loc": loc, "field": where, "message": message}]
        return cls(f"{where}: {message}", errors=errors, denied=denied)


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
    UnsupportedMedia,
    Invalid,
    Unavailable,
)
