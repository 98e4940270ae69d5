"""登录方式: the department login systems (listed in sign-in page order, never their settings),
adding one with a form for its kind, and removing one, for city-wide administrators only,
through the admin API's own service (``gateway/admin/platform.py``)."""

from __future__ import annotations

from starlette.responses import RedirectResponse, Response

from gateway.admin import platform
from gateway.admin.etags import etag_of
from gateway.admin.http import validated
from gateway.admin.models import ProviderCreate
from gateway.admin.models_ops import ProviderStateChange
from gateway.console.context import Console, view
from gateway.console.provider_form import PREFIX, config_from, settings_of
from gateway.server.responses import Invalid
from providers.registry import KINDS


def _kind(value: str | None) -> str:
    if value not in KINDS:
        raise Invalid.field(["body", "type"], f"use one of {sorted(KINDS)}")
    return value


@view("list_providers")
async def providers(console: Console) -> Response:
    found = await platform.list_providers(console.services, console.reach())
    return console.page(
        "console_providers.html",
        {
            "providers": [await platform.provider_out(console.services, p) for p in found],
            "kinds": sorted(KINDS),
            "done": console.request.query_params.get("done"),
        },
    )


@view("add_provider")
async def new_provider(console: Console) -> Response:
    console.writer.require_city_wide("department login systems")
    kind = _kind(console.request.query_params.get("type"))
    return console.page(
        "console_provider_new.html",
        {"kind": kind, "settings": settings_of(kind), "prefix": PREFIX},
    )


@view("add_provider")
async def add(console: Console) -> Response:
    writer = console.writer
    writer.require_city_wide("department login systems")  # before a word of the form is read
    kind = _kind(console.form.get("type"))
    body = validated(
        ProviderCreate,
        {
            "id": console.form.get("id", "").strip(),
            "type": kind,
            "config": config_from(kind, console.form),
        },
        "body",
    )
    await platform.add_provider(
        console.services, console.actor, writer, body.id, body.type, body.config
    )
    return RedirectResponse(f"/admin/providers/{body.id}?done=provider_added", status_code=303)


async def _provider_page(console: Console, tested: dict | None = None) -> Response:
    found = await platform.get_provider(
        console.services, console.reach(), console.request.path_params["provider_id"]
    )
    document = await platform.provider_out(console.services, found)
    return console.page(
        "console_provider.html",
        {
            "provider": document,
            "version": etag_of(None, document),
            "done": console.request.query_params.get("done"),
            "tested": tested,
        },
    )


@view("get_provider")
async def provider(console: Console) -> Response:
    return await _provider_page(console)


@view("test_provider")
async def test(console: Console) -> Response:
    tested = await platform.test_provider(
        console.services, console.actor, console.reach(), console.request.path_params["provider_id"]
    )
    return await _provider_page(console, tested)


@view("set_provider_disabled")
async def switch(console: Console) -> Response:
    writer = console.writer
    provider_id = console.request.path_params["provider_id"]
    body = validated(ProviderStateChange, {"disabled": console.form.get("disabled")}, "body")
    pre = console.precondition()
    found = await platform.get_provider(console.services, writer, provider_id)
    pre.check(etag_of(None, await platform.provider_out(console.services, found)))
    await platform.set_provider_disabled(
        console.services, console.actor, writer, provider_id, body.disabled
    )
    done = "provider_disabled" if body.disabled else "provider_enabled"
    return RedirectResponse(f"/admin/providers/{provider_id}?done={done}", status_code=303)


@view("remove_provider")
async def remove(console: Console) -> Response:
    writer = console.writer
    provider_id = console.request.path_params["provider_id"]
    pre = console.precondition()
    if pre.given:  # as the API's DELETE with If-Match
        found = await platform.get_provider(console.services, writer, provider_id)
        pre.check(etag_of(None, await platform.provider_out(console.services, found)))
    await platform.remove_provider(console.services, console.actor, writer, provider_id)
    return RedirectResponse("/admin/providers?done=provider_removed", status_code=303)
