"""The admin REST API at ``/admin/api/v1`` (see docs/administration.md)."""

from __future__ import annotations

import re
from itertools import groupby

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route, Router

# Registered in the API document's order: apps, the organisation, roles, people, the platform.
# isort: off
from gateway.admin import api_apps, api_org  # noqa: F401
from gateway.admin import api_roles  # noqa: F401
from gateway.admin import api_people, api_platform  # noqa: F401
from gateway.admin import api_resources  # noqa: F401
from gateway.admin import api_imports  # noqa: F401

# isort: on
from gateway.admin.http import ENDPOINTS, not_found, route_handler
from gateway.admin.openapi import document

ADMIN_PATH = "/admin/api/v1"
OPENAPI_PATH = "/openapi.json"
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]


async def openapi_endpoint(request: Request) -> Response:
    return Response(
        document(), media_type="application/json", headers={"Cache-Control": "no-cache"}
    )


def mount() -> Mount:
    """The admin API, for ``create_app``'s routes."""
    routes = [Route(OPENAPI_PATH, openapi_endpoint, methods=["GET"])]
    by_path = sorted(ENDPOINTS, key=lambda e: e.path)
    for path, found in groupby(by_path, key=lambda e: e.path):
        # Every method reaches the handler, so a wrong one is answered as a problem too.
        routes.append(Route(path, route_handler(list(found)), methods=METHODS))
    mounted = Mount(ADMIN_PATH, app=Router(routes, redirect_slashes=False, default=not_found))
    # Starlette's prefix pattern stops at a newline (``.``): an id with an encoded newline must
    # still reach the admin API, and get its 404 problem there.
    mounted.path_regex = re.compile(mounted.path_regex.pattern, re.DOTALL)
    return mounted
