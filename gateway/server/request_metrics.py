"""Each request into the metrics, by method, route template and status: called from the
access line, which both request paths (the middleware and the direct routes) write."""

from __future__ import annotations

from typing import Any

from starlette.routing import Mount
from starlette.types import Scope

from gateway.identity.metrics import REQUESTS

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_children: dict[tuple[str, str, int], Any] = {}


def route_template(scope: Scope) -> str:
    """The matched route's path template (``/admin/api/users/{user_id}``), never the raw path:
    ids and codes in paths must not become label values."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if path is None:
        return "unmatched"
    prefix = scope.get("root_path", "")  # the mount a route was found in (ours are fixed paths)
    return f"{prefix}/{{path}}" if isinstance(route, Mount) else prefix + path


def observe_request(scope: Scope, route: str, status: int, seconds: float) -> None:
    """One request into the latency histogram (the labelled child is looked up once)."""
    method = scope["method"] if scope["method"] in _METHODS else "other"
    key = (method, route, status)
    child = _children.get(key)
    if child is None:
        child = _children[key] = REQUESTS.labels(method, route, str(status))
    child.observe(seconds)
