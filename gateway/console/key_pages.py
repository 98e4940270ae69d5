"""密钥: the signing keys (next, active, retired) and their rotation, for city-wide
administrators only, through the admin API's own service (``gateway/admin/platform.py``)."""

from __future__ import annotations

from starlette.responses import Response

from gateway.admin import platform
from gateway.admin.http import validated
from gateway.admin.models import RotateIn
from gateway.console.context import Console, view


async def _page(console: Console, **context: object) -> Response:
    reach = console.reach()
    reach.require_city_wide("signing keys")
    await console.services.keys.reload()  # another instance may have rotated
    keys = platform.key_documents(console.services, reach)
    return console.page(
        "console_keys.html",
        {"keys": keys, "algorithms": sorted({k.alg for k in keys}), "result": None, **context},
    )


@view("list_keys")
async def keys(console: Console) -> Response:
    return await _page(console)


@view("rotate_key")
async def rotate(console: Console) -> Response:
    writer = console.writer
    body = validated(
        RotateIn,
        {"alg": console.form.get("alg") or None, "force": console.form.get("force") == "on"},
        "body",
    )
    services = console.services
    result = await platform.rotate_key(services, console.actor, writer, body.alg, body.force)
    return await _page(console, result=result)
